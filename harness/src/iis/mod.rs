//! IIS 6.0 itself: how it starts and what it says.

pub mod messages;
pub mod startup;
