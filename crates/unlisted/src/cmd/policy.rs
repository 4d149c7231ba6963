//! `unlisted policy --listen ADDR`: the policy service alone (`unlisted
//! serve` runs the same service when `enforce.policy.listen` is set).

use anyhow::Result;

use crate::Global;
use crate::output::Exit;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `127.0.0.1:10033` or `unix:/run/unlisted/policy.sock`; default:
    /// `enforce.policy.listen` of the config.
    #[arg(long)]
    listen: Option<String>,
    /// Also (or only) the milter, for Postfix's non_smtpd_milters:
    /// `127.0.0.1:10034` or `unix:/path`; default: enforce.policy.milter.
    #[arg(long)]
    milter: Option<String>,
}

pub(crate) async fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, _) = super::load_config(g)?;
    let parse = |s: Option<String>| -> Result<Option<enforce::server::Listen>> {
        s.map(|s| s.parse().map_err(anyhow::Error::msg)).transpose()
    };
    let listen = parse(a.listen.or(config.enforce.policy.listen.clone()))?;
    let milter = parse(a.milter.or(config.enforce.policy.milter.clone()))?;
    if listen.is_none() && milter.is_none() {
        anyhow::bail!(
            "say where to listen: --listen 127.0.0.1:10033 and/or --milter 127.0.0.1:10034 (or enforce.policy.listen / .milter in the config)"
        );
    }
    let svc =
        crate::policy::start(listen.as_ref(), milter.as_ref(), &g.db, &config.enforce).await?;
    // Tests and scripts read the bound addresses (a port 0 becomes real).
    if let Some(l) = &svc.policy {
        crate::output::line(&format!("listening on {l}"))?;
    }
    if let Some(l) = &svc.milter {
        crate::output::line(&format!("milter listening on {l}"))?;
    }
    super::serve::shutdown_signal().await;
    tracing::info!("policy service stopping");
    Ok(Exit::Clean)
}
