//! Reference prices: the index (what the asset trades for elsewhere) and the mark (what
//! positions are valued at). Pure functions; the engine feeds them oracle commands and its own
//! book, and turns their results into events (the funding issue's engine half).

pub mod index;
pub mod mark;
