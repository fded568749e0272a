//! Data sets the teachers model.

pub mod images;
pub mod toy;
