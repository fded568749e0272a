//! Data sets the teachers model.

pub mod toy;
