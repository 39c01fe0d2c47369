//! Links the hypervisor with the linker script `cargo xtask` generated for the platform.

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_GENERATED_DIR");
    println!("cargo:rerun-if-env-changed=TESSERA_LOG");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    match std::env::var("TESSERA_GENERATED_DIR") {
        Ok(dir) => {
            println!("cargo:rustc-link-arg=-T{dir}/linker.ld");
            println!("cargo:rerun-if-changed={dir}/linker.ld");
        }
        Err(_) => {
            println!(
                "cargo:warning=TESSERA_GENERATED_DIR is not set: build with `cargo xtask build`"
            );
        }
    }
}
