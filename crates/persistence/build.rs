//! Rebuilds the crate when a migration is added: `embed_migrations!` tracks the files it
//! embedded, not the directories a new migration appears in.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
