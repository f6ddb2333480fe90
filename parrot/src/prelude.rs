//! Everything a handler author needs, in one import.
//!
//! ```
//! use parrot::prelude::*;
//!
//! struct Hello;
//!
//! #[uas_handler]
//! impl Hello {
//!     async fn invite(&mut self, req: &Request) -> Response {
//!         req.reply(StatusCode::OK)
//!     }
//! }
//! ```

pub use crate::message::{HeaderName, Method, Request, Response, StatusCode, Uri};
pub use crate::server::Server;
pub use crate::server::{Action, Context, DialogHandle, IntoAction, UasHandler};
pub use parrot_macros::uas_handler;
