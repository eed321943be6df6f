//! Share-code guessing budgets: what stops a supporter's account from finding somebody's code.
//!
//! Every wrong code costs one token from four buckets: the account's, the source address's, the
//! organisation's and the relay's. Buckets refill with time only, one token every `refill_secs`
//! up to `burst`: a right code (the guesser's own or anybody's) gives nothing back, so connecting
//! to one's own agent between guesses buys nothing.
//!
//! The account bucket is the guesser's own: when it is empty the attempt is refused before the
//! code is looked up (looking it up would tell a blocked guesser whether it was right). The
//! address, organisation and relay buckets are shared with innocent people (a whole office
//! behind one NAT address, colleagues, everyone), so they never refuse anything and a right code
//! is always looked up; instead, a wrong code that finds a shared bucket empty (a guessing
//! campaign is running from that address, in that organisation, or on the relay) locks the
//! guesser's account for `lock_secs`. A supporter typing right codes is never refused, whatever
//! others do.
//!
//! Time is passed in: the budgets are sans-IO like the protocol machines, which is what lets the
//! simulation below run a day of attack in virtual time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Tokens it holds when full.
    pub burst: u32,
    /// Seconds to earn one token back.
    pub refill_secs: u64,
}

impl Bucket {
    /// How long it takes to earn one token back.
    pub fn every(&self) -> Duration {
        Duration::from_secs(self.refill_secs.max(1))
    }

    /// How far past `now` the bucket may be in debt and still hold one token.
    pub fn slack(&self) -> Duration {
        self.every().saturating_mul(self.burst.max(1) - 1)
    }

    /// Tokens earned in a day by a bucket drained all day, plus its burst.
    pub fn per_day(&self) -> u64 {
        u64::from(self.burst) + 86_400 / self.refill_secs.max(1)
    }
}

/// The four buckets and the campaign lock. `[guessing]` in the relay's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuessRules {
    /// Per source address (IPv6 by /64, since one host usually holds a whole /64), shared by
    /// everyone behind it: never refuses, starts the campaign lock when empty.
    pub address: Bucket,
    /// Per account: refuses when empty.
    pub account: Bucket,
    /// Per organisation, shared: never refuses, starts the campaign lock when empty.
    pub org: Bucket,
    /// Relay-wide, shared: never refuses, starts the campaign lock when empty.
    pub relay: Bucket,
    /// How long a wrong code during a campaign locks the guesser's account.
    pub lock_secs: u64,
}

impl Default for GuessRules {
    fn default() -> Self {
        GuessRules {
            address: Bucket {
                burst: 60,
                refill_secs: 60,
            },
            account: Bucket {
                burst: 10,
                refill_secs: 3_600,
            },
            org: Bucket {
                burst: 200,
                refill_secs: 120,
            },
            relay: Bucket {
                burst: 1_000,
                refill_secs: 20,
            },
            lock_secs: 4 * 3_600,
        }
    }
}

/// Longest refill or lock the rules accept: a year.
const LONGEST_SECS: u64 = 365 * 86_400;

impl GuessRules {
    /// Refuses rules that would misbehave: empty buckets, or refills and locks too long to add
    /// to a point in time.
    pub fn check(&self) -> Result<(), String> {
        for (name, b) in [
            ("address", self.address),
            ("account", self.account),
            ("org", self.org),
            ("relay", self.relay),
        ] {
            if b.burst == 0 || b.refill_secs == 0 || b.refill_secs > LONGEST_SECS {
                return Err(format!(
                    "guessing.{name}: burst must be at least 1 and refill_secs 1 to {LONGEST_SECS}"
                ));
            }
        }
        if self.lock_secs > LONGEST_SECS {
            return Err(format!("guessing.lock_secs must be at most {LONGEST_SECS}"));
        }
        Ok(())
    }

    /// The shape of `scope`'s bucket.
    pub fn bucket(&self, scope: &Scope) -> Bucket {
        match scope {
            Scope::Address(_) => self.address,
            Scope::Account(_) => self.account,
            Scope::Org(_) => self.org,
            Scope::Relay => self.relay,
        }
    }

    /// How long a wrong code during a campaign locks the guesser's account.
    pub fn lock(&self) -> Duration {
        Duration::from_secs(self.lock_secs)
    }
}

/// What a bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A source address; IPv6 cut to its /64, IPv4-mapped IPv6 read as IPv4.
    Address(IpAddr),
    /// An account.
    Account(i64),
    /// An organisation.
    Org(i64),
    /// The whole relay.
    Relay,
}

impl Scope {
    /// The address scope of `ip`.
    pub fn address(ip: IpAddr) -> Scope {
        Scope::Address(crate::addr::client_block(ip))
    }
}

/// Who is typing a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guesser {
    /// The viewer socket's source address.
    pub ip: IpAddr,
    /// The signed-in account.
    pub account: i64,
    /// The account's organisation.
    pub org: i64,
}

impl Guesser {
    /// The bucket that refuses.
    pub fn own(&self) -> Scope {
        Scope::Account(self.account)
    }

    /// The buckets shared with others, which lock instead.
    pub fn shared(&self) -> [Scope; 3] {
        [Scope::address(self.ip), Scope::Org(self.org), Scope::Relay]
    }
}

/// What a relay cluster's copies of the buckets say before an attempt. Every relay charges
/// them as well as its own, so a guesser spreading attempts over relays gains nothing; a
/// single relay passes the default (nothing to add).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterBudget {
    /// How long the guesser's account must wait before its next attempt.
    pub account_wait: Duration,
    /// One of the guesser's shared buckets (address, organisation, the cluster's) is empty: a
    /// wrong code now locks the account, as an empty shared bucket here would.
    pub campaign: bool,
}

/// The outcome of one code attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The guesser's account has no token left: nothing was looked up.
    Refused {
        /// When it has a token again.
        retry_after: Duration,
    },
    /// The code is live; nothing was charged.
    Right(T),
    /// A wrong code, charged.
    Wrong(Charge),
}

/// What a wrong code cost.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Charge {
    /// Until when the guesser's next attempt would be refused (zero if tokens are left).
    pub retry_after: Duration,
    /// Buckets this guess emptied (they had a token before it), to report once per exhaustion.
    pub emptied: Vec<Scope>,
    /// A shared bucket was already empty, so the guesser's account was locked.
    pub locked: bool,
}

/// The budgets' state: the theoretical time each bucket is full again (GCRA), for buckets that
/// are not full.
#[derive(Debug)]
pub struct GuessBudgets {
    rules: GuessRules,
    full_at: HashMap<Scope, Instant>,
}

impl GuessBudgets {
    /// Full buckets everywhere.
    pub fn new(rules: GuessRules) -> Self {
        GuessBudgets {
            rules,
            full_at: HashMap::new(),
        }
    }

    fn bucket(&self, scope: &Scope) -> Bucket {
        self.rules.bucket(scope)
    }

    /// How long until `scope` holds a token (zero: it holds one now).
    pub fn wait(&self, now: Instant, scope: &Scope) -> Duration {
        let b = self.bucket(scope);
        self.full_at.get(scope).map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(now + b.slack())
        })
    }

    /// Tokens `scope` holds at `now`.
    pub fn tokens(&self, now: Instant, scope: &Scope) -> u32 {
        let b = self.bucket(scope);
        let Some(full_at) = self.full_at.get(scope) else {
            return b.burst;
        };
        let debt = full_at.saturating_duration_since(now);
        let owed = debt.as_nanos().div_ceil(b.every().as_nanos());
        b.burst
            .saturating_sub(u32::try_from(owed).unwrap_or(u32::MAX))
    }

    /// One attempt by `who` at `now`: refused if their account's bucket is empty here or in
    /// the `cluster`, else `lookup` runs and a miss is charged. Nothing is ever given back.
    pub fn attempt<T>(
        &mut self,
        now: Instant,
        who: &Guesser,
        cluster: ClusterBudget,
        lookup: impl FnOnce() -> Option<T>,
    ) -> Attempt<T> {
        let retry_after = self.wait(now, &who.own()).max(cluster.account_wait);
        if !retry_after.is_zero() {
            return Attempt::Refused { retry_after };
        }
        match lookup() {
            Some(t) => Attempt::Right(t),
            None => Attempt::Wrong(self.charge(now, who, cluster.campaign)),
        }
    }

    fn charge(&mut self, now: Instant, who: &Guesser, campaign: bool) -> Charge {
        let own = who.own();
        let mut charge = Charge {
            locked: campaign,
            ..Charge::default()
        };
        for s in who.shared() {
            if self.wait(now, &s).is_zero() {
                self.take(now, s);
                if !self.wait(now, &s).is_zero() {
                    charge.emptied.push(s);
                }
            } else {
                charge.locked = true;
            }
        }
        self.take(now, own);
        if charge.locked {
            let b = self.bucket(&own);
            let lock = self.rules.lock();
            let locked = now
                .checked_add(b.slack().saturating_add(lock))
                .unwrap_or(now + Duration::from_secs(86_400 * 365));
            let t = self.full_at.entry(own).or_insert(now);
            *t = (*t).max(locked);
        }
        if !self.wait(now, &own).is_zero() {
            charge.emptied.push(own);
        }
        charge.retry_after = self.wait(now, &own);
        charge
    }

    fn take(&mut self, now: Instant, s: Scope) {
        let every = self.bucket(&s).every();
        let t = self.full_at.entry(s).or_insert(now);
        *t = (*t).max(now) + every;
    }

    /// Forgets full buckets, so memory stays bounded however many addresses guessed.
    pub fn prune(&mut self, now: Instant) {
        self.full_at.retain(|_, t| *t > now);
    }

    /// Buckets not full, for tests and metrics.
    pub fn len(&self) -> usize {
        self.full_at.len()
    }

    /// Whether every bucket is full.
    pub fn is_empty(&self) -> bool {
        self.full_at.is_empty()
    }
}

#[cfg(test)]
mod tests;
