//! `enroll`, `status` and `unenroll`: the `tether-agent` program's enrollment commands (part of
//! the program, not of the library).

use anyhow::{Context, Result};
use tether_agent::machine::{
    self, AgentConfig, HostFacts, KeyStoreKind, MachineIdentity, hostname, platform,
};
use tether_agent::relay_client::{self, ClientConfig};
use tether_protocol::reconnect::Backoff;

use crate::{ConfigArgs, EnrollArgs};

/// `tether-agent enroll`.
pub async fn enroll(
    EnrollArgs {
        relay,
        token,
        key_store,
        key_file,
        ca_file,
        name,
        config: args,
    }: EnrollArgs,
) -> Result<()> {
    relay_client::agent_url(&relay).context("--relay")?;
    let path = args.path()?;
    let kind = key_store.unwrap_or(if args.system {
        platform::system_key_store()
    } else {
        KeyStoreKind::Keyring
    });
    let key_file = match kind {
        KeyStoreKind::Keyring => None,
        KeyStoreKind::File => Some(key_file.unwrap_or_else(|| {
            if args.system && args.config.is_none() {
                platform::system_key_path()
            } else {
                path.with_file_name("machine.key")
            }
        })),
    };
    // The earlier enrollment is retired once the new one works: its key is about to be replaced.
    let earlier = AgentConfig::load(&path).ok().and_then(|c| {
        let id = MachineIdentity::load(c.machine_id, c.store().ok()?.as_ref()).ok()?;
        Some((c, id))
    });
    let cfg = AgentConfig {
        relay,
        machine_id: 0,
        key_store: kind,
        key_file,
        ca_file,
        name,
        display: None,
    };
    let store = cfg.store()?;
    let facts = HostFacts::this_machine(cfg.name.clone().unwrap_or_else(hostname));
    let identity = machine::enroll(
        &cfg.relay,
        cfg.ca_file.as_deref(),
        &token,
        &facts,
        store.as_ref(),
    )
    .await
    .context("enrolling")?;
    let cfg = AgentConfig {
        machine_id: identity.id,
        ..cfg
    };
    cfg.save(&path)?;
    println!(
        "Enrolled as machine {} with {}; key kept in {}; configuration in {}.",
        identity.id,
        cfg.relay,
        store.describe(),
        path.display()
    );
    if let Some((old, old_id)) = earlier.filter(|(_, i)| i.id != identity.id) {
        match machine::unenroll(&old.relay, old.ca_file.as_deref(), &old_id).await {
            Ok(()) => println!("The earlier enrollment (machine {}) is revoked.", old_id.id),
            Err(e) => println!(
                "The earlier enrollment (machine {}) could not be revoked ({e}); revoke it on the relay's admin page.",
                old_id.id
            ),
        }
    }
    if args.system && args.config.is_none() {
        match platform::start_enrolled_service() {
            Ok(Some(what)) => println!("{what}"),
            Ok(None) => {}
            // Enrolled all the same: the service starts at the next boot.
            Err(e) => println!("The machine is enrolled, but {e}."),
        }
    }
    Ok(())
}

/// `tether-agent status`; returns the exit status.
pub async fn status(args: ConfigArgs) -> Result<i32> {
    let path = args.path()?;
    let agent = AgentConfig::load(&path)?;
    let store = agent.store()?;
    println!("Configuration: {}", path.display());
    println!("Relay:         {}", agent.relay);
    println!("Machine:       {}", agent.machine_id);
    println!("Key:           {}", store.describe());
    let machine = MachineIdentity::load(agent.machine_id, store.as_ref())?;
    println!("Public key:    {}", machine.public_key());
    let cfg = ClientConfig {
        relay: agent.relay,
        hostname: agent.name.unwrap_or_else(hostname),
        backoff: Backoff::default(),
        ca_file: agent.ca_file,
        media: None,
        machine: Some(machine),
        local_user: platform::local_user_present(),
    };
    match relay_client::check_sign_in(&cfg).await {
        Ok(()) => {
            println!("Relay:         accepts this machine");
            Ok(0)
        }
        Err(e @ tether_agent::Error::MachineRefused(_)) => Err(e.into()),
        Err(e) => {
            println!("Relay:         cannot be asked ({e})");
            Ok(1)
        }
    }
}

/// `tether-agent unenroll`: revokes the machine at the relay when it can, and removes the key
/// and configuration whatever the relay says.
pub async fn unenroll(args: ConfigArgs) -> Result<()> {
    let path = args.path()?;
    let agent = AgentConfig::load(&path)?;
    let store = agent.store()?;
    match MachineIdentity::load(agent.machine_id, store.as_ref()) {
        Ok(id) => match machine::unenroll(&agent.relay, agent.ca_file.as_deref(), &id).await {
            Ok(()) => println!("Machine {} is revoked at {}.", id.id, agent.relay),
            Err(e) => println!(
                "The relay could not be told ({e}); revoke machine {} on its admin page.",
                id.id
            ),
        },
        Err(e) => println!(
            "{e}; revoke machine {} on the relay's admin page.",
            agent.machine_id
        ),
    }
    store.delete()?;
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    println!("Removed the machine key and {}.", path.display());
    Ok(())
}
