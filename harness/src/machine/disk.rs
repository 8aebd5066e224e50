//! The files on the simulated machine's disks, and who is using them.
//!
//! A scenario says which image sits at which Windows path, and which configured paths must hold
//! nothing. Scenarios run in parallel on one machine, so two of them may want different files at
//! the same path; a scenario therefore acquires its whole layout at once, waiting while any path
//! it needs holds something else, and the files stay in place until the last scenario that
//! wanted them is done. Acquiring everything under one lock, all or nothing, cannot deadlock.
//!
//! Only files the harness placed are ever removed, and a file is placed only where there is
//! none: an image at a path that holds the machine's own file (Wine's
//! `C:\windows\system32\kernel32.dll`) or anything else the harness did not put there is
//! refused. Every placement and removal goes through the backend's [`DiskRoot`], which
//! resolves no link and nothing above the disk, in the same call that opens: a folder a
//! filter replaced with a link, or swaps for one while the harness places, cannot steer a
//! write or a removal elsewhere. Files left by a run that was killed are listed in
//! `placed.list` (outside the sandbox, so a filter cannot edit the list) and removed when the
//! next run opens the machine (only a run without a sandbox leaves any: a sandboxed run's
//! files are on the run's own layer, which ends with it).
//!
//! A server copy's file ([`Content::Shadow`]) is the one exception: a real server keeps C
//! runtimes and vendor DLLs in its System32, so the copy's file takes the place of the
//! machine's own there. That is allowed only on a machine whose disk ends with the run and
//! serves no other scenario ([`Disk::allow_shadowing`]); anywhere else it is refused as any
//! other placement over the machine's files is.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use anyhow::Context;

use super::backend::{Backend, Target};
use super::beneath::DiskRoot;
use crate::winpath::WinPath;

/// What a scenario needs at one path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Content {
    /// A copy of this file (a built mock, a synthetic image, or the user's own DLL).
    Copy(PathBuf),
    /// Nothing the harness placed: the loader should find no file (or the machine's own).
    Nothing,
    /// A server copy's file: placed like [`Content::Copy`], and over the machine's own file
    /// of that path where the machine allows it (see [`Disk::allow_shadowing`]).
    Shadow(PathBuf),
}

impl Content {
    /// The file to copy onto the disk, if this content is one.
    pub fn source(&self) -> Option<&Path> {
        match self {
            Content::Copy(source) | Content::Shadow(source) => Some(source),
            Content::Nothing => None,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Layout {
    entries: Vec<(WinPath, Content)>,
}

impl Layout {
    /// Adds an entry; a later entry for the same path replaces an earlier one.
    pub fn set(&mut self, path: WinPath, content: Content) {
        self.entries.retain(|(existing, _)| existing != &path);
        self.entries.push((path, content));
    }

    /// Marks `path` as needing to hold nothing, unless the layout already puts a file there.
    pub fn require_nothing_unless_set(&mut self, path: WinPath) {
        if !self.entries.iter().any(|(existing, _)| existing == &path) {
            self.entries.push((path, Content::Nothing));
        }
    }

    pub fn entries(&self) -> &[(WinPath, Content)] {
        &self.entries
    }

    pub fn content_at(&self, path: &WinPath) -> Option<&Content> {
        self.entries.iter().find(|(existing, _)| existing == path).map(|(_, content)| content)
    }
}

struct Holding {
    content: Content,
    users: usize,
    placed_file: Option<PathBuf>,
}

pub struct Disk {
    holdings: Mutex<HashMap<String, Holding>>,
    released: Condvar,
    /// None on a sandbox's own layer, whose files go with the sandbox.
    placed_list: Option<PathBuf>,
    /// The machine's folder, resolved: the files of a killed run are removed only inside it.
    root: PathBuf,
    /// The disk files are placed on; paths below are relative to it.
    disk: std::sync::Arc<DiskRoot>,
    /// Folders created to hold placed files, shallowest first. They go when they are empty
    /// again: a folder left over from an earlier scenario would change what the next one's
    /// file check answers (ERROR_FILE_NOT_FOUND in an existing folder, else ERROR_PATH_NOT_FOUND).
    created_folders: Mutex<Vec<PathBuf>>,
    /// Whether a server copy's file may take the place of the machine's own (see
    /// [`Disk::allow_shadowing`]).
    shadowing: std::sync::atomic::AtomicBool,
}

/// Keeps a layout in place; dropping it releases the paths.
pub struct LayoutGuard<'a> {
    disk: &'a Disk,
    keys: Vec<String>,
}

impl Disk {
    /// Opens the disk, first removing whatever an earlier, interrupted run left behind.
    pub fn open(state_dir: &Path, disk: std::sync::Arc<DiskRoot>) -> anyhow::Result<Disk> {
        std::fs::create_dir_all(state_dir)?;
        let root = std::fs::canonicalize(state_dir)
            .with_context(|| format!("cannot resolve `{}`", state_dir.display()))?;
        let placed_list = state_dir.join("placed.list");
        remove_listed(&placed_list, &root);
        std::fs::write(&placed_list, b"")
            .with_context(|| format!("cannot write `{}`", placed_list.display()))?;
        Ok(Disk {
            holdings: Mutex::new(HashMap::new()),
            released: Condvar::new(),
            placed_list: Some(placed_list),
            root,
            disk,
            created_folders: Mutex::new(Vec::new()),
            shadowing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A disk on a sandbox's own layer (see `Seed::open`): what is placed there goes with the
    /// sandbox, killed or not, so nothing is listed, and nothing an earlier run left is looked
    /// for (the run's first machine did that).
    pub fn on_own_layer(disk: std::sync::Arc<DiskRoot>) -> Disk {
        Disk {
            holdings: Mutex::new(HashMap::new()),
            released: Condvar::new(),
            placed_list: None,
            root: PathBuf::new(),
            disk,
            created_folders: Mutex::new(Vec::new()),
            shadowing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Lets a server copy's file take the place of the machine's own file of its path. Only
    /// for a disk that is discarded when its machine closes and that no other scenario uses:
    /// the machine's file is gone for the rest of the machine's life, which is this run's.
    pub fn allow_shadowing(&self) {
        self.shadowing.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// What removes every file this run placed, for an interrupted run (the guards that would
    /// remove them never drop).
    pub fn emergency_cleanup(&self) -> impl Fn() + Send + 'static {
        let (list, root) = (self.placed_list.clone(), self.root.clone());
        move || {
            if let Some(list) = &list {
                remove_listed(list, &root);
            }
        }
    }

    /// Waits until every path of `layout` is free or already holds what the layout wants, then
    /// places the files.
    pub fn acquire<'a>(
        &'a self,
        backend: &Backend,
        layout: &Layout,
    ) -> anyhow::Result<LayoutGuard<'a>> {
        let mut holdings = self.holdings.lock().expect("disk lock poisoned");
        loop {
            let compatible = layout.entries().iter().all(|(path, content)| {
                holdings.get(&path.key()).is_none_or(|holding| &holding.content == content)
            });
            if compatible {
                break;
            }
            holdings = self.released.wait(holdings).expect("disk lock poisoned");
        }
        let mut keys = Vec::new();
        for (path, content) in layout.entries() {
            let key = path.key();
            if let Some(holding) = holdings.get_mut(&key) {
                holding.users += 1;
                keys.push(key);
                continue;
            }
            let placed_file = match content {
                Content::Copy(source) | Content::Shadow(source) => {
                    match self.place(backend, path, source, matches!(content, Content::Shadow(_))) {
                        Ok(file) => Some(file),
                        Err(error) => {
                            drop(holdings);
                            self.release(&keys);
                            return Err(error);
                        }
                    }
                }
                Content::Nothing => {
                    // A file of ours from a scenario that has finished would answer for a path
                    // that is meant to be missing; the holdings say none is in use, so any
                    // file here that we placed is gone already. Foreign files stay.
                    None
                }
            };
            holdings
                .insert(key.clone(), Holding { content: content.clone(), users: 1, placed_file });
            keys.push(key);
        }
        Ok(LayoutGuard { disk: self, keys })
    }

    fn place(
        &self,
        backend: &Backend,
        path: &WinPath,
        source: &Path,
        shadow: bool,
    ) -> anyhow::Result<PathBuf> {
        // Counted as under way, so an interruption waits for it before removing files.
        let _placing = crate::interrupt::placing()?;
        let mut created = Vec::new();
        let target = backend.target_for(path, &mut created);
        // Recorded at once, so an interrupted run still knows to remove them.
        if !created.is_empty() {
            if let Some(list) = &self.placed_list {
                let mut list = std::fs::OpenOptions::new().append(true).open(list)?;
                for folder in &created {
                    writeln!(list, "{FOLDER_MARK}{}", self.disk.show(folder).display())?;
                }
            }
            self.created_folders.lock().expect("disk lock poisoned").extend(created);
        }
        // No path in use holds a file of ours (the holdings say so, and the files of killed
        // runs went when the machine opened), so anything here is someone else's.
        let file = match target? {
            Target::Free(file) => file,
            Target::Taken(file) if shadow => self.shadow(path, file)?,
            Target::Taken(file) => anyhow::bail!(
                "refusing to place an image at {path}: `{}` already holds a file the harness did not put there (the machine's own Windows, or someone else's); choose another path",
                self.disk.show(&file).display()
            ),
        };
        // Recorded before the copy, so an interrupted run still knows to remove it.
        if let Some(list) = &self.placed_list {
            let mut list = std::fs::OpenOptions::new().append(true).open(list)?;
            writeln!(list, "{}", self.disk.show(&file).display())?;
        }
        // A copy rather than a link: a loaded DLL is locked on Windows, and under Wine a link
        // out of the prefix would show the loader a path it never sees on a real server.
        // The file is created new: a file or link that appeared since the lookup is refused.
        let copied = (|| -> std::io::Result<()> {
            let mut from = std::fs::File::open(source)?;
            let mut to = self.disk.create_new_file(&file)?;
            std::io::copy(&mut from, &mut to)?;
            Ok(())
        })();
        copied.with_context(|| {
            format!(
                "cannot place `{}` at {path} (`{}`)",
                source.display(),
                self.disk.show(&file).display()
            )
        })?;
        Ok(file)
    }

    /// Makes way for a server copy's file at `file`, which holds the machine's own: its entry
    /// is removed (a file or a link, never followed; never a folder), so the copy's file is
    /// created in its place.
    fn shadow(&self, path: &WinPath, file: PathBuf) -> anyhow::Result<PathBuf> {
        if !self.shadowing.load(std::sync::atomic::Ordering::Relaxed) {
            anyhow::bail!(
                "refusing to place the server copy's file at {path}: `{}` holds the machine's own file, and this machine is not pristine (its disk outlives the run, or other scenarios share it); run the copy with a sandbox, where every run's machine is its own",
                self.disk.show(&file).display()
            );
        }
        if self.disk.kind(&file) == Some(super::beneath::Kind::Folder)
            || !self.disk.remove_entry(&file)
        {
            anyhow::bail!(
                "cannot place the server copy's file at {path}: `{}` is a folder, or cannot be removed",
                self.disk.show(&file).display()
            );
        }
        Ok(file)
    }

    fn release(&self, keys: &[String]) {
        let mut holdings = self.holdings.lock().expect("disk lock poisoned");
        for key in keys {
            let Some(holding) = holdings.get_mut(key) else { continue };
            holding.users -= 1;
            if holding.users == 0 {
                if let Some(file) = &holding.placed_file {
                    self.disk.remove_file(file);
                }
                holdings.remove(key);
                let mut folders = self.created_folders.lock().expect("disk lock poisoned");
                // Deepest first; a folder that still holds something stays.
                let mut index = folders.len();
                while index > 0 {
                    index -= 1;
                    let gone = self.disk.kind(&folders[index]).is_none();
                    if gone || self.disk.remove_empty_folder(&folders[index]) {
                        folders.remove(index);
                    }
                }
            }
        }
        self.released.notify_all();
    }
}

impl Drop for LayoutGuard<'_> {
    fn drop(&mut self) {
        self.disk.release(&self.keys);
    }
}

/// The mark of a line in the placed list that names a folder the harness created.
const FOLDER_MARK: &str = "folder ";

/// Removes the files listed in `list` (one path a line), then the folders created for them
/// that are empty, deepest first.
fn remove_listed(list: &Path, root: &Path) {
    if let Ok(text) = std::fs::read_to_string(list) {
        let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
        for line in lines.iter().filter(|line| !line.starts_with(FOLDER_MARK)) {
            remove_placed(Path::new(line), root);
        }
        for line in lines.iter().rev() {
            if let Some(folder) = line.strip_prefix(FOLDER_MARK) {
                remove_created_folder(Path::new(folder), root);
            }
        }
    }
}

/// Removes a folder the harness created, if it is empty, a real folder and inside `root`.
fn remove_created_folder(folder: &Path, root: &Path) -> bool {
    let real_folder = std::fs::symlink_metadata(folder).is_ok_and(|meta| meta.is_dir());
    let inside =
        std::fs::canonicalize(folder).is_ok_and(|dir| dir.starts_with(root) && dir != root);
    // remove_dir refuses a folder that is not empty.
    real_folder && inside && std::fs::remove_dir(folder).is_ok()
}

/// Removes a file the harness placed, if it is still a plain file in a folder inside `root`.
fn remove_placed(file: &Path, root: &Path) {
    let plain = std::fs::symlink_metadata(file).is_ok_and(|meta| meta.file_type().is_file());
    let inside = file
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .is_some_and(|dir| dir.starts_with(root));
    if plain && inside {
        let _ = std::fs::remove_file(file);
    }
}
