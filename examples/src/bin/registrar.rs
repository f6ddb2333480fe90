//! `registrar`: a registrar with an in-memory location service (see
//! `examples::registrar`).

use examples::cli::{self, Spec};
use examples::registrar::{self, Location, RegistrarOptions};
use std::process::ExitCode;

const SPEC: Spec = Spec {
    usage: "\
usage: registrar [--listen ADDR] [--min-expires SECONDS] [--default-expires SECONDS]
                 [--max-expires SECONDS] [--sweep SECONDS]

A SIP registrar (RFC 3261 section 10.3) keeping its bindings in memory.
REGISTER adds, refreshes or removes (Expires: 0) the Contacts of the
address-of-record in the To header; Contact: * with Expires: 0 removes
them all. A lifetime below the minimum gets 423 Interval Too Brief with
Min-Expires. Every 200 lists the current Contacts with their remaining
lifetime; a REGISTER without Contact just asks for that list. Lapsed
bindings are dropped when next looked at and by a periodic sweep.

options:
  --listen ADDR               where to listen, UDP and TCP (default
                              0.0.0.0:5060; a bare port means every interface)
  --min-expires SECONDS       shortest lifetime accepted (default 60)
  --default-expires SECONDS   lifetime when the request names none (default 3600)
  --max-expires SECONDS       longest lifetime granted (default 86400)
  --sweep SECONDS             how often lapsed bindings are swept (default 60)
  -h, --help                  this text

Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.",
    values: &[
        "--min-expires",
        "--default-expires",
        "--max-expires",
        "--sweep",
    ],
    switches: &[],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        let d = RegistrarOptions::default();
        let options = RegistrarOptions {
            min_expires: opts.value("--min-expires")?.unwrap_or(d.min_expires),
            default_expires: opts
                .value("--default-expires")?
                .unwrap_or(d.default_expires),
            max_expires: opts.value("--max-expires")?.unwrap_or(d.max_expires),
            sweep_interval: opts.seconds("--sweep")?.unwrap_or(d.sweep_interval),
        };
        if options.default_expires < options.min_expires
            || options.max_expires < options.default_expires
        {
            return Err(cli::Error::Usage(
                "need --min-expires <= --default-expires <= --max-expires".into(),
            ));
        }
        registrar::serve_with(opts.listen()?, cli::ctrl_c(), options, Location::new()).await?;
        Ok(())
    })
}
