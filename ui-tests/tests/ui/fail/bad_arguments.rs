use parrot::prelude::*;

struct A;

#[uas_handler(krate = "parrot")]
impl A {}

struct B;

#[uas_handler(crate = parrot)]
impl B {}

struct C;

#[uas_handler(crate = "not a path")]
impl C {}

struct D;

#[uas_handler(crate)]
impl D {}

struct E;

#[uas_handler(crate = "parrot", crate = "parrot")]
impl E {}

fn main() {}
