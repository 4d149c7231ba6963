//! `unlisted token create|list|revoke`: tokens for the API, the dashboard
//! and `/metrics`. Only a hash is stored; the token is printed once, alone
//! on the last line of stdout, so a script can take it with `tail -1`.

use anyhow::{Result, bail};

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// A new token: `read` sees everything, `operate` also acts (holds,
    /// incident moves, check now).
    Create {
        #[arg(long, value_parser = ["read", "operate"])]
        role: String,
        /// What it is for (shown in the audit of its actions).
        #[arg(long)]
        name: Option<String>,
    },
    /// The tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    match c {
        Command::Create { role, name } => {
            let token = web::new_token()?;
            let name = name.unwrap_or_else(|| format!("{role}-{}", &token[3..9]));
            let id = store.add_token(&name, &role, &web::hash_token(&token), output::now())?;
            output::line(&format!(
                "token {id} \"{name}\" ({role}); it is shown only now:"
            ))?;
            output::line(&token)?;
        }
        Command::List { json } => {
            for t in store.tokens()? {
                if json {
                    output::json(&t)?;
                } else {
                    output::line(&format!(
                        "{:>3}  {:<8} {:<24} created {}  last used {}{}",
                        t.id,
                        t.role,
                        t.name,
                        output::time(t.created),
                        t.last_used
                            .map(output::time)
                            .unwrap_or_else(|| "never".into()),
                        t.revoked
                            .map(|r| format!("  REVOKED {}", output::time(r)))
                            .unwrap_or_default()
                    ))?;
                }
            }
        }
        Command::Revoke { id } => {
            if !store.revoke_token(id, output::now())? {
                bail!("no live token has id {id} (`unlisted token list`)");
            }
            output::line(&format!("token {id} revoked"))?;
        }
    }
    Ok(Exit::Clean)
}
