#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

#[cfg(test)]
extern crate std;

pub mod address;
pub mod classify;
pub mod exposure;
pub mod packet;

pub use address::{FlagStyle, Flags, Prefix, Teredo};
pub use classify::{AddressKind, Context, Nat64Prefix, SixRd, classify, classify_with};
