//! Links the guest at the address its VM configs load it at.

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg=-T{dir}/link-{arch}.ld");
        println!("cargo:rerun-if-changed=link-{arch}.ld");
    }
}
