//! OpenTelemetry trace export for the server binaries (the `otel` feature,
//! `--otlp URL`): the `tracing` spans the library opens, `sip` per request
//! (`call_id`, `method`) and at DEBUG its child `tx` (`branch`, `peer`,
//! `transport`), become OpenTelemetry spans with those fields as
//! attributes and the events logged inside them as span events, POSTed as
//! OTLP/HTTP JSON to `URL/v1/traces`.
//!
//! The batch span processor exports from a thread of its own with a
//! blocking HTTP client, so the export neither needs nor occupies the
//! server's tokio runtime, and logging can be installed before the runtime
//! exists. [`cli::main`](crate::cli::main) starts an [`Export`] when the
//! binary was given `--otlp` and shuts it down after the server stops.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};

/// A running trace export. Spans are sent in batches (every 5 s, or
/// sooner when 512 are queued); [`shutdown`](Self::shutdown) sends the
/// rest, so call it before the process exits.
#[derive(Debug)]
pub struct Export {
    provider: SdkTracerProvider,
}

impl Export {
    /// Starts exporting to the OTLP/HTTP endpoint `url` (a value
    /// [`parse_endpoint`] accepted): traces go to `URL/v1/traces`, with
    /// `service.name` = `service`, or `OTEL_SERVICE_NAME` when that is set
    /// (the standard OpenTelemetry variables for headers, timeouts and
    /// batch sizes apply too). Nothing is sent before the first span ends.
    pub fn start(url: &str, service: &str) -> Result<Export, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            // Used verbatim by the exporter: the signal's path is ours to add.
            .with_endpoint(format!("{}/v1/traces", url.trim_end_matches('/')))
            .build()
            .map_err(|e| e.to_string())?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(service.to_owned());
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        Ok(Export { provider })
    }

    /// The tracer the `tracing-opentelemetry` layer creates spans with; its
    /// instrumentation scope is `parrot`, whose spans it carries.
    pub fn tracer(&self) -> Tracer {
        self.provider.tracer("parrot")
    }

    /// Sends the spans still queued and stops the export, waiting at most
    /// 5 s (an unreachable collector must not hold the exit up). Spans that
    /// end afterwards are dropped.
    pub fn shutdown(self) -> Result<(), String> {
        self.provider.shutdown().map_err(|e| e.to_string())
    }
}

/// Parses an `--otlp` value: the base URL of an OTLP/HTTP receiver, such
/// as `http://127.0.0.1:4318` (a trailing `/` is dropped). Plain HTTP only:
/// the build carries no TLS client.
pub fn parse_endpoint(v: &str) -> Result<String, String> {
    // clap's message already quotes the value.
    let Some(rest) = v.strip_prefix("http://") else {
        return Err(if v.starts_with("https://") {
            "https is not supported (no TLS client in this build); use http://".into()
        } else {
            "not a URL such as http://127.0.0.1:4318".into()
        });
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err("no host".into());
    }
    Ok(v.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:4318/").as_deref(),
            Ok("http://127.0.0.1:4318")
        );
        assert_eq!(
            parse_endpoint("http://collector:4318/otlp").as_deref(),
            Ok("http://collector:4318/otlp")
        );
        for bad in [
            "https://collector:4318",
            "collector:4318",
            "http://",
            "http:///x",
            "",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }
}
