//! Running external commands with uniform logging and error context.

use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

/// Renders a command line for logs and error messages.
pub fn display(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        line.push(' ');
        // Inline scripts would drown the log: name them instead.
        match arg.lines().count() {
            0 | 1 => line.push_str(&arg),
            lines => line.push_str(&format!("<{lines}-line script>")),
        }
    }
    line
}

/// Runs `cmd` with inherited output, failing unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd.status().map_err(|err| start_error(&line, err))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its standard output, failing unless it exits successfully.
pub fn capture(cmd: &mut Command) -> Result<Vec<u8>> {
    let line = display(cmd);
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| start_error(&line, err))?;
    if !output.status.success() {
        bail!("`{line}` failed ({})", output.status);
    }
    Ok(output.stdout)
}

/// Runs `cmd` quietly and returns its standard output as text, or `None` when it cannot start or
/// fails. For checks such as `tool --version`, where "absent" and "broken" both mean "install it".
pub fn probe(cmd: &mut Command) -> Option<String> {
    let output = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The error for a command that could not be started, hinting at setup when it is missing.
fn start_error(line: &str, err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        anyhow!("could not start `{line}`: {err} (is it installed? run `cargo xtask setup`)")
    } else {
        anyhow!("could not start `{line}`: {err}")
    }
}

/// A string field of a one-line JSON object printed by the broker's CLI.
pub fn json_field(json: &str, field: &str) -> Result<String> {
    let key = format!("\"{field}\":\"");
    let start = json.find(&key).map(|i| i + key.len()).with_context(|| format!("no `{field}` in {json}"))?;
    let end = json[start..].find('"').with_context(|| format!("unterminated `{field}` in {json}"))? + start;
    Ok(json[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_json_fields_are_found() {
        let json = r#"{"id":"ws_1","name":"bench","appKey":"pb_ak_x","secretKey":"pb_sk_y"}"#;
        assert_eq!(json_field(json, "id").ok().as_deref(), Some("ws_1"));
        assert!(json_field(json, "missing").is_err());
    }
}
