//! What a run's sandbox may use: memory, processes and disk, and how a host that reached a
//! limit is told apart from one that crashed.
//!
//! - **Memory** and **processes**: a cgroup of the run's own, which bwrap and every process
//!   entered into the sandbox join before they exec (`process::Confinement::cgroups`). cgroup
//!   v2 when its hierarchy has the `memory` and `pids` controllers, else v1's `memory` and
//!   `pids` hierarchies (on a machine whose v2 hierarchy has only `hugetlb`, v1 is where the
//!   controllers are). `RLIMIT_AS` is no memory limit for Wine: an idle 64-bit Wine process
//!   reserves about 1.8 GB of address space, and Wine aborts under a 1 GiB one.
//! - **Processes** also through `RLIMIT_NPROC` of the sandbox's user, which holds where no
//!   cgroup can be made (it counts every process of that user, which is why the sandbox has a
//!   uid of its own); beside a cgroup it is set at twice the limit, so that the cgroup, whose
//!   refusals are counted, is the one that refuses. Both count threads as processes: a Wine
//!   process has several, and the machine's own services take dozens before any filter runs.
//! - **Disk**: the size of the tmpfs that holds the run's changes (`overlay.rs`); a write past
//!   it fails with "disk full" inside, and nothing of it outlives the run.
//!
//! A host that reached a limit is found by the limit's own counters, read before and after the
//! host: the cgroup's OOM kills (`memory.oom_control` or `memory.events`), its refused forks
//! (`pids.events`), and the disk's free space.

use std::path::{Path, PathBuf};

/// The limits a user asked for; None is no limit (`0` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested {
    pub memory: Option<u64>,
    pub processes: Option<u64>,
    pub disk: Option<u64>,
}

pub const GIB: u64 = 1024 * 1024 * 1024;

impl Default for Requested {
    fn default() -> Self {
        Requested { memory: Some(2 * GIB), processes: Some(256), disk: Some(GIB) }
    }
}

/// One limit as the command line gives it: a value, or none (`0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// `parse_size` for clap.
pub fn size_argument(text: &str) -> Result<Limit, String> {
    parse_size(text).map(Limit)
}

/// `parse_count` for clap.
pub fn count_argument(text: &str) -> Result<Limit, String> {
    parse_count(text).map(Limit)
}

/// Reads a size: a number of bytes, or one with a unit (`K`, `M`, `G`, `T`, powers of 1024,
/// with or without `iB`/`B`); `0` is no limit.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let trimmed = text.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 2G, 512M, 0 for none)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("`{text}`: unknown unit `{other}` (use K, M, G or T)")),
    };
    let bytes =
        number.checked_mul(1u64 << shift).ok_or_else(|| format!("`{text}` is too large"))?;
    Ok((bytes != 0).then_some(bytes))
}

/// Reads a count of processes; `0` is no limit.
pub fn parse_count(text: &str) -> Result<Option<u64>, String> {
    let count: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of processes (0 for none)"))?;
    Ok((count != 0).then_some(count))
}

/// A limit in words, for the timeline and messages: "2 GiB", "512 MiB", "256 processes".
pub fn bytes_in_words(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1u64 << shift && bytes.is_multiple_of(1u64 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    if bytes >= GIB {
        return format!("{:.1} GiB", bytes as f64 / GIB as f64);
    }
    format!("{bytes} bytes")
}

/// Which limit a host reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Memory { limit: u64 },
    Processes { limit: u64 },
    Disk { limit: u64 },
}

impl Hit {
    /// How a host that reached this limit ended.
    pub fn host_end(self) -> crate::vocab::HostEnd {
        use crate::vocab::HostEnd;
        match self {
            Hit::Memory { limit } => HostEnd::MemoryLimit { limit },
            Hit::Processes { limit } => HostEnd::ProcessLimit { limit },
            Hit::Disk { limit } => HostEnd::DiskLimit { limit },
        }
    }
}

/// How one limit is kept, for `doctor` and `start --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LimitState {
    /// The limit (bytes, or processes); null for none.
    pub limit: Option<u64>,
    /// What keeps it (`"cgroup v1 memory"`, `"RLIMIT_NPROC"`, `"tmpfs size"`), one entry each.
    pub by: Vec<String>,
    /// Why it cannot be kept here, when it cannot (then `by` is empty).
    pub not_set: Option<String>,
}

/// Every limit's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LimitsReport {
    pub memory: LimitState,
    pub processes: LimitState,
    pub disk: LimitState,
}

/// A cgroup the run made, in one hierarchy.
#[derive(Debug)]
struct Group {
    dir: PathBuf,
    /// The file a process writes `0` to, to join.
    procs: PathBuf,
}

/// The run's limits and the cgroups that keep them; the cgroups go when this is dropped.
#[derive(Debug, Default)]
pub struct RunLimits {
    pub memory: Option<u64>,
    pub processes: Option<u64>,
    pub disk: Option<u64>,
    memory_group: Option<(Group, Version)>,
    pids_group: Option<(Group, Version)>,
    pub report: Option<LimitsReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        }
    }
}

impl RunLimits {
    /// Makes the run's cgroups and says how each limit is kept. `sandboxed`: whether the run
    /// has a sandbox (without one, nothing here holds).
    pub fn set_up(requested: Requested, sandboxed: bool) -> RunLimits {
        if sandboxed {
            remove_stale_groups();
        }
        RunLimits::make(requested, sandboxed, format!("isapi-harness-{}", std::process::id()))
    }

    /// The same limits for another machine of the run (a matrix scenario's, see `Seed`), in
    /// cgroups of its own: one scenario's processes and memory never count against another
    /// that runs beside it, and a run of many jobs is not refused processes because each job's
    /// machine has Wine's services (dozens of threads) of its own.
    pub fn another(requested: Requested) -> RunLimits {
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let number = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Only a sandboxed run has more machines (see `Seed`).
        RunLimits::make(requested, true, format!("isapi-harness-{}-{number}", std::process::id()))
    }

    fn make(requested: Requested, sandboxed: bool, name: String) -> RunLimits {
        let mut limits = RunLimits {
            memory: requested.memory,
            processes: requested.processes,
            disk: requested.disk,
            memory_group: None,
            pids_group: None,
            report: None,
        };
        if !sandboxed {
            limits.forgo();
            return limits;
        }
        let mut memory = LimitState { limit: requested.memory, by: Vec::new(), not_set: None };
        if let Some(bytes) = requested.memory {
            match make_group("memory", &name, |dir, version| match version {
                Version::V2 => std::fs::write(dir.join("memory.max"), bytes.to_string()),
                Version::V1 => {
                    std::fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
                    // Swap too, where the kernel accounts for it.
                    let memsw = dir.join("memory.memsw.limit_in_bytes");
                    if memsw.exists() {
                        std::fs::write(memsw, bytes.to_string())?;
                    }
                    Ok(())
                }
            }) {
                Ok((group, version)) => {
                    memory.by.push(format!("{} memory", version.name()));
                    limits.memory_group = Some((group, version));
                }
                Err(why) => memory.not_set = Some(why),
            }
        }
        let mut processes =
            LimitState { limit: requested.processes, by: Vec::new(), not_set: None };
        if let Some(count) = requested.processes {
            match make_group("pids", &name, |dir, _| {
                std::fs::write(dir.join("pids.max"), count.to_string())
            }) {
                Ok((group, version)) => {
                    processes.by.push(format!("{} pids", version.name()));
                    limits.pids_group = Some((group, version));
                }
                Err(why) => processes.not_set = Some(why),
            }
            // RLIMIT_NPROC counts the processes of a user; only a user of the sandbox's own
            // makes it a limit of the sandbox.
            if super::running_as_root() {
                processes.by.push(match limits.pids_group {
                    Some(_) => format!(
                        "RLIMIT_NPROC of the sandbox's user ({}, behind the cgroup)",
                        count.saturating_mul(USER_PROCESSES_BEHIND_CGROUP)
                    ),
                    None => "RLIMIT_NPROC of the sandbox's user".into(),
                });
            }
            if processes.by.is_empty() {
                processes.not_set.get_or_insert_with(|| "no cgroup could be made".into());
            } else {
                processes.not_set = None;
            }
        }
        let disk = LimitState {
            limit: requested.disk,
            by: requested
                .disk
                .map(|_| "the size of the run's tmpfs".to_owned())
                .into_iter()
                .collect(),
            not_set: None,
        };
        limits.report = Some(LimitsReport { memory, processes, disk });
        limits
    }

    /// Gives the limits up, for a run without a sandbox: nothing would join the cgroups, and
    /// the report says that no limit holds.
    pub fn forgo(&mut self) {
        for (group, _) in [self.memory_group.take(), self.pids_group.take()].into_iter().flatten() {
            let _ = std::fs::remove_dir(&group.dir);
        }
        let none = |limit| LimitState {
            limit,
            by: Vec::new(),
            not_set: Some("no sandbox: without bubblewrap no limit holds".into()),
        };
        self.report = Some(LimitsReport {
            memory: none(self.memory),
            processes: none(self.processes),
            disk: none(self.disk),
        });
        (self.memory, self.processes, self.disk) = (None, None, None);
    }

    /// `RLIMIT_NPROC` for the sandbox's user. The kernel checks it before the cgroup's count,
    /// and it counts every process and thread of that user on the machine (a superset of the
    /// run's), so at the same number it would refuse first, leaving no trace a host's end
    /// could be told by (`pids.events` counts the cgroup's refusals only): a fork bomb would
    /// pass as an ordinary run. With the run's pids cgroup it is a backstop behind it; without
    /// one it is the limit.
    pub fn user_processes(&self) -> Option<u64> {
        let count = self.processes?;
        Some(match self.pids_group {
            Some(_) => count.saturating_mul(USER_PROCESSES_BEHIND_CGROUP),
            None => count,
        })
    }

    /// The files a process of the sandbox writes to, to join the run's cgroups.
    pub fn cgroup_files(&self) -> Vec<PathBuf> {
        [&self.memory_group, &self.pids_group]
            .into_iter()
            .flatten()
            .map(|(group, _)| group.procs.clone())
            .collect()
    }

    /// Every process in the run's cgroup (as this PID namespace numbers them), when there is
    /// one: every process of the sandbox joined it before it ran, and none of them may leave.
    pub fn members(&self) -> Option<Vec<u32>> {
        let (group, _) = self.pids_group.as_ref().or(self.memory_group.as_ref())?;
        let text = std::fs::read_to_string(&group.procs).ok()?;
        Some(text.lines().filter_map(|line| line.trim().parse().ok()).collect())
    }

    /// The counters that tell a limit was reached, now.
    pub fn counters(&self, disk: &super::beneath::DiskRoot) -> Counters {
        let oom_kills = self.memory_group.as_ref().and_then(|(group, version)| match version {
            Version::V1 => read_counter(&group.dir.join("memory.oom_control"), "oom_kill"),
            Version::V2 => read_counter(&group.dir.join("memory.events"), "oom_kill"),
        });
        let refused_forks = self
            .pids_group
            .as_ref()
            .and_then(|(group, _)| read_counter(&group.dir.join("pids.events"), "max"));
        Counters { oom_kills, refused_forks, disk_free: disk.free_bytes() }
    }

    /// Which limit a host reached between `before` and `after`, if one did. A memory limit
    /// counts only for a host that was killed (the kernel's OOM killer sends SIGKILL).
    pub fn hit(&self, before: &Counters, after: &Counters, killed: bool) -> Option<Hit> {
        let rose = |a: Option<u64>, b: Option<u64>| matches!((a, b), (Some(a), Some(b)) if b > a);
        if let Some(limit) = self.memory
            && killed
            && rose(before.oom_kills, after.oom_kills)
        {
            return Some(Hit::Memory { limit });
        }
        if let Some(limit) = self.processes
            && rose(before.refused_forks, after.refused_forks)
        {
            return Some(Hit::Processes { limit });
        }
        // A full tmpfs: less free than one write of Wine's could use.
        if let Some(limit) = self.disk
            && after.disk_free.is_some_and(|free| free < DISK_FULL)
            && before.disk_free.is_some_and(|free| free >= DISK_FULL)
        {
            return Some(Hit::Disk { limit });
        }
        None
    }
}

/// How many times the process limit `RLIMIT_NPROC` is, when the run's pids cgroup keeps the
/// limit itself (see [`RunLimits::user_processes`]).
const USER_PROCESSES_BEHIND_CGROUP: u64 = 2;

/// Less free space than this on the run's tmpfs is a full disk.
const DISK_FULL: u64 = 1024 * 1024;

/// What the limits' counters said at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    oom_kills: Option<u64>,
    refused_forks: Option<u64>,
    disk_free: Option<u64>,
}

impl Drop for RunLimits {
    fn drop(&mut self) {
        // Every process of the run has been killed (the sandbox went first), but the kernel
        // ends them one by one after the kill, and rmdir refuses a group (EBUSY) until the
        // last has gone: without waiting, each run left its groups to the next run's clean-up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        for (group, _) in [&self.memory_group, &self.pids_group].into_iter().flatten() {
            while let Err(error) = std::fs::remove_dir(&group.dir) {
                if error.kind() != std::io::ErrorKind::ResourceBusy
                    || std::time::Instant::now() > deadline
                {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

/// `name value` lines (`oom_kill 3`): the value of `key`.
fn read_counter(file: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

/// The cgroup hierarchies of this machine: (version, mount point, the controllers it has).
fn hierarchies() -> Vec<(Version, PathBuf, Vec<String>)> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    let mut found = Vec::new();
    for line in mounts.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS
        let Some((before, after)) = line.split_once(" - ") else { continue };
        let fields: Vec<&str> = before.split(' ').collect();
        let after: Vec<&str> = after.split(' ').collect();
        let (Some(point), Some(kind)) = (fields.get(4), after.first()) else { continue };
        let point = PathBuf::from(point.replace("\\040", " "));
        match *kind {
            "cgroup2" => {
                let controllers = std::fs::read_to_string(point.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                found.push((Version::V2, point, controllers));
            }
            "cgroup" => {
                let options = after.get(2).copied().unwrap_or("");
                let controllers = options.split(',').map(str::to_owned).collect();
                found.push((Version::V1, point, controllers));
            }
            _ => {}
        }
    }
    found
}

/// Makes the run's group for `controller`, in cgroup v2 if its hierarchy has the controller,
/// else in v1's hierarchy of it, and sets it up with `set`; or says why it cannot.
fn make_group(
    controller: &str,
    name: &str,
    set: impl Fn(&Path, Version) -> std::io::Result<()>,
) -> Result<(Group, Version), String> {
    let all = hierarchies();
    let v2 = all.iter().find(|(version, _, controllers)| {
        *version == Version::V2 && controllers.iter().any(|c| c == controller)
    });
    let v1 = all.iter().find(|(version, _, controllers)| {
        *version == Version::V1 && controllers.iter().any(|c| c == controller)
    });
    let Some((version, point, _)) = v2.or(v1) else {
        return Err(format!(
            "this machine has no cgroup hierarchy with the `{controller}` controller"
        ));
    };
    let dir = point.join(name);
    let made = (|| -> std::io::Result<()> {
        std::fs::create_dir(&dir)?;
        if *version == Version::V2 {
            // The parent must hand the controller down; it does when the harness's own
            // cgroup tree is delegated to it.
            let _ = std::fs::write(point.join("cgroup.subtree_control"), format!("+{controller}"));
        }
        set(&dir, *version)
    })();
    match made {
        Ok(()) => {
            let procs = dir.join("cgroup.procs");
            Ok((Group { dir, procs }, *version))
        }
        Err(error) => {
            let _ = std::fs::remove_dir(&dir);
            Err(format!(
                "cannot make the {} `{controller}` group `{}`: {error}",
                version.name(),
                dir.display()
            ))
        }
    }
}

/// Removes the groups of runs that are gone (killed before they could remove their own).
fn remove_stale_groups() {
    for (_, point, _) in hierarchies() {
        for entry in std::fs::read_dir(&point).into_iter().flatten().filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `isapi-harness-PID`, or `isapi-harness-PID-N` for a run's other machines.
            let Some(pid) = name.strip_prefix("isapi-harness-") else { continue };
            let pid = pid.split('-').next().unwrap_or(pid);
            if !Path::new("/proc").join(pid).exists() {
                // rmdir refuses a group that still has processes.
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_units_and_zero_is_none() {
        assert_eq!(parse_size("2G"), Ok(Some(2 * GIB)));
        assert_eq!(parse_size("2GiB"), Ok(Some(2 * GIB)));
        assert_eq!(parse_size("512M"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("4096"), Ok(Some(4096)));
        assert_eq!(parse_size("0"), Ok(None));
        assert!(parse_size("2X").is_err());
        assert!(parse_size("G").is_err());
        assert_eq!(parse_count("256"), Ok(Some(256)));
        assert_eq!(parse_count("0"), Ok(None));
        assert_eq!(bytes_in_words(2 * GIB), "2 GiB");
        assert_eq!(bytes_in_words(512 << 20), "512 MiB");
    }
}
