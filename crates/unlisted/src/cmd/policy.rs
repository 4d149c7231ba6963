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
}

pub(crate) async fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, _) = super::load_config(g)?;
    let Some(listen) = a.listen.or(config.enforce.policy.listen.clone()) else {
        anyhow::bail!(
            "say where to listen: --listen 127.0.0.1:10033 (or enforce.policy.listen in the config)"
        );
    };
    let listen: enforce::server::Listen = listen.parse().map_err(anyhow::Error::msg)?;
    let svc = crate::policy::start(&listen, &g.db, &config.enforce).await?;
    // Tests and scripts read the bound address (a port 0 becomes real).
    crate::output::line(&format!("listening on {}", svc.listen))?;
    super::serve::shutdown_signal().await;
    tracing::info!("policy service stopping");
    Ok(Exit::Clean)
}
