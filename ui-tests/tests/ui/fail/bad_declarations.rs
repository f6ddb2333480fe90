use parrot::prelude::*;

struct A;

#[uas_handler(supported = "replaces, not a tag")]
impl A {}

struct B;

#[uas_handler(accept(inf = "application/dtmf-relay"))]
impl B {}

struct C;

#[uas_handler(accept(info = "dtmf"))]
impl C {}

struct D;

#[uas_handler(accept = "text/plain")]
impl D {}

struct E;

#[uas_handler(supported = replaces)]
impl E {}

fn main() {}
