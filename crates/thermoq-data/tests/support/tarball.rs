//! Test support shared by the unit tests of `src/full.rs` and by `tests/mnist.rs` (included
//! through `#[path]`): a gzipped tar archive built in memory.

/// A gzipped tarball holding `members`, `(path, contents)` in order.
pub fn tarball<P: AsRef<str>, D: AsRef<[u8]>>(members: &[(P, D)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in members {
        let data = data.as_ref();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path.as_ref(), data)
            .expect("an in-memory archive takes the member");
    }
    let raw = tar.into_inner().expect("an in-memory archive finishes");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).expect("in-memory gzip");
    gz.finish().expect("in-memory gzip")
}
