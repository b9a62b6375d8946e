//! `sixfold generate-assets DIR` (hidden; the package build runs it): man
//! pages for `sixfold` and each subcommand (clap_mangen) in `DIR/man`, and
//! bash, zsh and fish completions (clap_complete) in `DIR/completions`, all
//! from the one clap definition the binary parses with.

use anyhow::Context;
use clap::{Args, CommandFactory};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct AssetsArgs {
    /// Where to write `man/` and `completions/`.
    dir: PathBuf,
}

/// Writes `contents` to `path`, saying which file failed.
fn write(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// The man page of `cmd`, named `name` (`sixfold-run` for a subcommand).
fn man_page(cmd: clap::Command, name: &str, dir: &Path) -> anyhow::Result<()> {
    let cmd = cmd.name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    write(&dir.join(format!("{name}.1")), &out)
}

pub(crate) fn run(args: AssetsArgs) -> anyhow::Result<ExitCode> {
    let man = args.dir.join("man");
    let completions = args.dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let cmd = crate::commands::Cli::command();
    man_page(cmd.clone(), "sixfold", &man)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_page(sub.clone(), &format!("sixfold-{}", sub.get_name()), &man)?;
    }
    use clap_complete::Shell;
    for (shell, file) in [
        (Shell::Bash, "sixfold"),
        (Shell::Zsh, "_sixfold"),
        (Shell::Fish, "sixfold.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "sixfold", &mut out);
        write(&completions.join(file), &out)?;
    }
    Ok(ExitCode::SUCCESS)
}
