//! Times `list_versions` and `catalog` (what `registry list` reads) on an
//! existing registry directory:
//! `cargo run --release -p registry-core --example listprobe -- DIR`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).ok_or("usage: listprobe REGISTRY_DIR")?;
    let registry = registry_core::Registry::open(&root)?;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let versions = registry.list_versions()?;
        println!("list_versions: {} versions in {:?}", versions.len(), t.elapsed());
    }
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let rows = registry.catalog()?;
        println!("catalog: {} rows in {:?}", rows.len(), t.elapsed());
    }
    Ok(())
}
