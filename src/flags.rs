//! Flag groups more than one command takes, declared once and flattened into each
//! (`#[command(flatten)]`), so that `-e` reads `ASB_ENDPOINT` wherever it is accepted and a
//! listener binds loopback unless told otherwise, for every command alike.
//!
//! A command keeps its own words where a flag means something of its own there (what `-e`
//! points at, a port's default): it rewords the flag with `mut_arg` on its own struct, and
//! the flag's name, short name and environment variable stay those declared here.

use std::net::IpAddr;

use anyhow::{bail, Result};
use clap::Args;

use crate::wire::endpoint::UpstreamApi;

/// The endpoint calls go to, and the credentials they carry: `asb record -e URL -m MODEL`,
/// `asb replay -e URL -m MODEL`, `asb serve --mode … -e URL -m MODEL`.
#[derive(Debug, Clone, Args)]
pub(crate) struct EndpointFlags {
    /// Endpoint URL.
    #[arg(short = 'e', long, env = "ASB_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Model to request.
    #[arg(short = 'm', long, env = "ASB_MODEL")]
    pub model: Option<String>,
    /// API key for the endpoint (also read from ASB_API_KEY). Never printed or written to disk.
    #[arg(short = 'k', long, env = "ASB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Header that carries the key: `authorization` sends `Bearer KEY`; anything else sends
    /// the key as that header's value. Default: x-api-key for Anthropic, authorization otherwise.
    #[arg(long)]
    pub api_key_header: Option<String>,
    /// API the endpoint speaks; default: anthropic for *.anthropic.com, responses for an
    /// endpoint ending in /v1/responses, openai (Chat Completions) otherwise. `responses`:
    /// the endpoint has the OpenAI Responses API (and Chat Completions).
    #[arg(long, value_enum)]
    pub upstream_api: Option<UpstreamApi>,
}

impl EndpointFlags {
    /// `-e`, or what to do about its absence.
    pub(crate) fn endpoint(&self) -> Result<&str> {
        match self.endpoint.as_deref() {
            Some(e) => Ok(e),
            None => bail!("no endpoint: pass -e URL (or set ASB_ENDPOINT)"),
        }
    }

    /// `-m`, or what to do about its absence.
    pub(crate) fn model(&self) -> Result<&str> {
        match self.model.as_deref() {
            Some(m) => Ok(m),
            None => bail!("no model: pass -m MODEL (or set ASB_MODEL)"),
        }
    }
}

/// Where a server listens. The port's default is each command's own (`mut_arg("port", …)`).
#[derive(Debug, Clone, Args)]
pub(crate) struct ListenFlags {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(short = 'P', long)]
    pub port: u16,
    /// Address to bind (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
}

/// For a command's `#[command(mut_arg("port", flags::port_default("19000")))]`: its port
/// when `-P` is not given.
pub(crate) fn port_default(port: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.required(false).default_value(port)
}

/// For a command's `mut_arg`: the flag reworded for that command (a help line, no final
/// full stop, as clap shows doc comments).
pub(crate) fn reworded(help: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.help(help)
}
