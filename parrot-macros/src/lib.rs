//! Procedural macros for the `parrot` SIP framework.
//!
//! The `#[uas_handler]` attribute arrives with the handler layer; this crate is
//! part of the workspace from the start so the layout is stable.
