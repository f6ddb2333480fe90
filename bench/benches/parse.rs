//! Parse + transaction-field extraction, parrot vs rsip vs ezk-sip-types.
//!
//! Run with `cargo bench -p bench --features compare --bench parse`.

use bench::{CORPUS, Error, Fields, visit_ezk, visit_parrot, visit_rsip};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A library's measured work: parse, extract, hand the fields to a closure.
type Visit = fn(&[u8], fn(Fields<'_>)) -> Result<(), Error>;

const LIBRARIES: [(&str, Visit); 3] = [
    ("parrot", |b, f| visit_parrot(b, f)),
    ("rsip", |b, f| visit_rsip(b, f)),
    ("ezk", |b, f| visit_ezk(b, f)),
];

/// Consumes the extracted fields so the optimiser must produce all of them.
fn sink(f: Fields<'_>) {
    black_box(f);
}

fn per_message(c: &mut Criterion) {
    for sample in CORPUS {
        let mut group = c.benchmark_group(sample.name);
        group.throughput(Throughput::Bytes(sample.bytes.len() as u64));
        for (lib, visit) in LIBRARIES {
            visit(sample.bytes, sink).unwrap_or_else(|e| panic!("{lib} on {}: {e}", sample.name));
            group.bench_function(lib, |b| {
                b.iter(|| visit(black_box(sample.bytes), sink).unwrap())
            });
        }
        group.finish();
    }
}

fn all_messages(c: &mut Criterion) {
    let mut group = c.benchmark_group("all_messages");
    let total: usize = CORPUS.iter().map(|s| s.bytes.len()).sum();
    group.throughput(Throughput::Bytes(total as u64));
    for (lib, visit) in LIBRARIES {
        group.bench_function(lib, |b| {
            b.iter(|| {
                for sample in CORPUS {
                    visit(black_box(sample.bytes), sink).unwrap();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_message, all_messages);
criterion_main!(benches);
