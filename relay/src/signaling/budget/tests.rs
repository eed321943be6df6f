//! The guessing budgets' own tests: bucket arithmetic, campaign locks, and a day of attack in
//! virtual time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn guesser(ip: &str, account: i64, org: i64) -> Guesser {
    Guesser {
        ip: ip.parse().unwrap(),
        account,
        org,
    }
}

fn wrong(b: &mut GuessBudgets, now: Instant, g: &Guesser) -> Attempt<()> {
    b.attempt(now, g, ClusterBudget::default(), || None)
}

fn right(b: &mut GuessBudgets, now: Instant, g: &Guesser) -> Attempt<()> {
    b.attempt(now, g, ClusterBudget::default(), || Some(()))
}

#[test]
fn an_account_gets_its_burst_then_one_guess_per_refill_and_right_codes_give_nothing_back() {
    let t0 = Instant::now();
    let rules = GuessRules::default();
    let mut b = GuessBudgets::new(rules);
    let g = guesser("203.0.113.9", 7, 1);
    for i in 0..rules.account.burst {
        // The own-agent trick: a right code between wrong ones.
        assert_eq!(right(&mut b, t0, &g), Attempt::Right(()));
        let Attempt::Wrong(c) = wrong(&mut b, t0, &g) else {
            panic!("guess {i} refused")
        };
        assert!(!c.locked);
    }
    let every = Duration::from_secs(rules.account.refill_secs);
    assert_eq!(
        right(&mut b, t0, &g),
        Attempt::Refused { retry_after: every },
        "an empty account is refused even with a right code, before any lookup"
    );
    let mut looked = false;
    let _ = b.attempt(t0, &g, ClusterBudget::default(), || {
        looked = true;
        Some(())
    });
    assert!(!looked, "a refused attempt must not look the code up");
    // Time alone refills: one token per period.
    let later = t0 + every;
    assert!(matches!(wrong(&mut b, later, &g), Attempt::Wrong(_)));
    assert!(matches!(wrong(&mut b, later, &g), Attempt::Refused { .. }));
}

#[test]
fn the_first_guess_that_empties_the_account_reports_it_once() {
    let t0 = Instant::now();
    let mut b = GuessBudgets::new(GuessRules::default());
    let g = guesser("203.0.113.9", 7, 1);
    let mut reports = 0;
    for _ in 0..10 {
        if let Attempt::Wrong(c) = wrong(&mut b, t0, &g)
            && c.emptied.contains(&Scope::Account(7))
        {
            reports += 1;
            assert_eq!(c.retry_after, Duration::from_secs(3_600));
        }
    }
    assert_eq!(reports, 1);
    assert_eq!(b.tokens(t0, &Scope::Account(7)), 0);
}

#[test]
fn an_empty_relay_bucket_never_refuses_a_right_code_but_locks_the_next_guesser() {
    let t0 = Instant::now();
    let rules = GuessRules {
        relay: Bucket {
            burst: 5,
            refill_secs: 60,
        },
        ..GuessRules::default()
    };
    let mut b = GuessBudgets::new(rules);
    let mut emptied_relay = 0;
    for i in 0..5 {
        let g = guesser(&format!("198.51.100.{i}"), i, i);
        if let Attempt::Wrong(c) = wrong(&mut b, t0, &g) {
            assert!(!c.locked);
            emptied_relay += usize::from(c.emptied.contains(&Scope::Relay));
        }
    }
    assert_eq!(emptied_relay, 1);
    let innocent = guesser("192.0.2.1", 100, 100);
    assert_eq!(right(&mut b, t0, &innocent), Attempt::Right(()));
    let guesser6 = guesser("198.51.100.6", 6, 6);
    let Attempt::Wrong(c) = wrong(&mut b, t0, &guesser6) else {
        panic!("a fresh guesser has tokens of its own")
    };
    assert!(c.locked);
    assert_eq!(c.retry_after, Duration::from_secs(rules.lock_secs));
    // The lock follows the account to other addresses; a colleague on the same address (one
    // office behind NAT) keeps connecting.
    let same_account = guesser("198.51.100.66", 6, 6);
    assert!(matches!(
        right(&mut b, t0, &same_account),
        Attempt::Refused { .. }
    ));
    let colleague = guesser("198.51.100.6", 60, 6);
    assert_eq!(right(&mut b, t0, &colleague), Attempt::Right(()));
}

#[test]
fn an_office_behind_one_address_keeps_connecting_while_one_of_it_guesses() {
    let t0 = Instant::now();
    let rules = GuessRules {
        address: Bucket {
            burst: 4,
            refill_secs: 60,
        },
        ..GuessRules::default()
    };
    let mut b = GuessBudgets::new(rules);
    let nat = "198.51.100.1";
    // Four guessers behind the office's address empty its bucket, one guess each.
    for i in 0..4 {
        let Attempt::Wrong(c) = wrong(&mut b, t0, &guesser(nat, i, 1)) else {
            panic!("guess {i} refused")
        };
        assert!(!c.locked);
        assert_eq!(
            c.emptied.contains(&Scope::address(nat.parse().unwrap())),
            i == 3
        );
    }
    // Colleagues with right codes go on; the next wrong code locks its account, not the office.
    assert_eq!(right(&mut b, t0, &guesser(nat, 50, 1)), Attempt::Right(()));
    let Attempt::Wrong(c) = wrong(&mut b, t0, &guesser(nat, 9, 1)) else {
        panic!("a fresh account has tokens of its own")
    };
    assert!(c.locked);
    assert_eq!(c.retry_after, Duration::from_secs(rules.lock_secs));
    assert_eq!(right(&mut b, t0, &guesser(nat, 51, 1)), Attempt::Right(()));
}

#[test]
fn what_the_cluster_says_refuses_and_locks_as_this_relays_own_buckets_would() {
    let t0 = Instant::now();
    let rules = GuessRules::default();
    let mut b = GuessBudgets::new(rules);
    let g = guesser("203.0.113.9", 7, 1);
    // Other relays spent the account: refused here, unread, though this relay charged nothing.
    let spent = ClusterBudget {
        account_wait: Duration::from_secs(90),
        campaign: false,
    };
    let mut looked = false;
    let refused = b.attempt(t0, &g, spent, || {
        looked = true;
        Some(())
    });
    assert_eq!(
        refused,
        Attempt::Refused {
            retry_after: Duration::from_secs(90)
        }
    );
    assert!(!looked);
    // A campaign elsewhere (an empty shared bucket on other relays): a right code still goes
    // through, a wrong one locks the account here.
    let campaign = ClusterBudget {
        account_wait: Duration::ZERO,
        campaign: true,
    };
    assert_eq!(b.attempt(t0, &g, campaign, || Some(())), Attempt::Right(()));
    let Attempt::Wrong(c) = b.attempt(t0, &g, campaign, || None::<()>) else {
        panic!("a wrong code is charged")
    };
    assert!(c.locked);
    assert!(c.retry_after >= rules.lock());
    assert!(matches!(right(&mut b, t0, &g), Attempt::Refused { .. }));
}

#[test]
fn rules_that_would_misbehave_are_refused() {
    assert!(GuessRules::default().check().is_ok());
    let mut r = GuessRules::default();
    r.org.burst = 0;
    assert!(r.check().unwrap_err().contains("guessing.org"));
    let mut r = GuessRules::default();
    r.account.refill_secs = u64::MAX;
    assert!(r.check().is_err());
    let r = GuessRules {
        lock_secs: u64::MAX,
        ..GuessRules::default()
    };
    assert!(r.check().is_err());
}

#[test]
fn an_empty_org_bucket_locks_guessers_of_that_org_only() {
    let t0 = Instant::now();
    let rules = GuessRules {
        org: Bucket {
            burst: 3,
            refill_secs: 60,
        },
        ..GuessRules::default()
    };
    let mut b = GuessBudgets::new(rules);
    for i in 0..3 {
        let _ = wrong(&mut b, t0, &guesser(&format!("198.51.100.{i}"), i, 1));
    }
    let Attempt::Wrong(c) = wrong(&mut b, t0, &guesser("198.51.100.9", 9, 1)) else {
        panic!()
    };
    assert!(c.locked);
    let Attempt::Wrong(c) = wrong(&mut b, t0, &guesser("198.51.100.10", 10, 2)) else {
        panic!()
    };
    assert!(!c.locked, "another organisation's budget is its own");
}

#[test]
fn ipv6_addresses_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
    assert_eq!(
        Scope::address("2001:db8:1:2:aaaa::1".parse().unwrap()),
        Scope::address("2001:db8:1:2:ffff:1:2:3".parse().unwrap())
    );
    assert_ne!(
        Scope::address("2001:db8:1:2::1".parse().unwrap()),
        Scope::address("2001:db8:1:3::1".parse().unwrap())
    );
    assert_eq!(
        Scope::address("::ffff:203.0.113.9".parse().unwrap()),
        Scope::Address(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)))
    );
}

#[test]
fn full_buckets_are_forgotten() {
    let t0 = Instant::now();
    let mut b = GuessBudgets::new(GuessRules::default());
    let _ = wrong(&mut b, t0, &guesser("203.0.113.9", 7, 1));
    assert_eq!(b.len(), 4);
    b.prune(t0 + Duration::from_secs(1_800));
    assert_eq!(
        b.len(),
        1,
        "the shared buckets refill in minutes, the account in 60"
    );
    b.prune(t0 + Duration::from_secs(3_600));
    assert!(b.is_empty());
}

/// Who acts next in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    Attacker(i64),
    Supporter(i64),
}

/// What a simulated day produced.
#[derive(Debug)]
struct Day {
    wrong_guesses: u64,
    locks: u64,
    right_connects: u64,
    right_refused: u64,
}

/// A day of attack in virtual time: `accounts` attacker accounts (in one organisation or one
/// each) share `addresses` source addresses and guess as fast as the budgets allow, each also
/// connecting to its own agent with its right code after every guess; 200 honest supporters of
/// the same organisations connect with right codes every five minutes from their own addresses.
fn simulate(rules: GuessRules, accounts: i64, addresses: u32, one_org: bool) -> Day {
    let t0 = Instant::now();
    let mut b = GuessBudgets::new(rules);
    let rtt = Duration::from_millis(20);
    let day = Duration::from_secs(86_400);
    let org_of = |a: i64| if one_org { 1 } else { a };
    let attacker_ip = |i: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
    let mut queue = BinaryHeap::new();
    for a in 0..accounts {
        queue.push(Reverse((Duration::ZERO, Actor::Attacker(a))));
    }
    for s in 0..200 {
        queue.push(Reverse((
            Duration::from_secs(s as u64),
            Actor::Supporter(s),
        )));
    }
    // Attacker addresses by when each next holds a token.
    let mut free: BinaryHeap<Reverse<(Duration, u32)>> = (0..addresses)
        .map(|i| Reverse((Duration::ZERO, i)))
        .collect();
    let mut out = Day {
        wrong_guesses: 0,
        locks: 0,
        right_connects: 0,
        right_refused: 0,
    };
    while let Some(Reverse((at, actor))) = queue.pop() {
        if at >= day {
            break;
        }
        let now = t0 + at;
        match actor {
            Actor::Supporter(s) => {
                let g = Guesser {
                    ip: IpAddr::V4(Ipv4Addr::from(0xc000_0200 + s as u32)),
                    account: 1_000_000 + s,
                    org: org_of(s % accounts),
                };
                out.right_connects += 1;
                if !matches!(right(&mut b, now, &g), Attempt::Right(())) {
                    out.right_refused += 1;
                }
                queue.push(Reverse((at + Duration::from_secs(300), actor)));
            }
            Actor::Attacker(a) => {
                let Reverse((ip_at, ip)) = free.pop().expect("addresses");
                if ip_at > at {
                    free.push(Reverse((ip_at, ip)));
                    queue.push(Reverse((ip_at, actor)));
                    continue;
                }
                let g = Guesser {
                    ip: attacker_ip(ip),
                    account: a,
                    org: org_of(a),
                };
                if let Attempt::Wrong(c) = wrong(&mut b, now, &g) {
                    out.wrong_guesses += 1;
                    out.locks += u64::from(c.locked);
                    let _ = right(&mut b, now, &g);
                }
                let ip_wait = b.wait(now, &Scope::address(g.ip));
                let account_wait = b.wait(now, &Scope::Account(a));
                free.push(Reverse((at + ip_wait.max(rtt), ip)));
                queue.push(Reverse((at + account_wait.max(rtt), actor)));
            }
        }
        if at.as_secs() % 600 == 0 {
            b.prune(now);
        }
    }
    out
}

/// Expected consent prompts reached by `guesses` random guesses against `live` codes among
/// 10^10.
fn expected_prompts(guesses: u64, live: u64) -> f64 {
    guesses as f64 * live as f64 / 1e10
}

#[test]
fn a_day_of_guessing_by_a_thousand_accounts_reaches_under_a_twentieth_of_a_prompt() {
    let rules = GuessRules::default();
    for one_org in [true, false] {
        let day = simulate(rules, 1_000, 1_000, one_org);
        let prompts = expected_prompts(day.wrong_guesses, 10_000);
        eprintln!("one_org={one_org}: {day:?}, expected prompts reached {prompts:.4} a day");
        assert!(prompts <= 0.05, "{day:?}: {prompts}");
        assert_eq!(day.right_refused, 0, "{day:?}");
        assert!(day.right_connects >= 200 * 287, "{day:?}");
        assert!(day.locks > 0, "the campaign lock must have been exercised");
        // Without the campaign lock the same attackers would get every account's own budget.
        let unlocked = simulate(
            GuessRules {
                lock_secs: 0,
                ..rules
            },
            1_000,
            1_000,
            one_org,
        );
        assert!(unlocked.wrong_guesses > day.wrong_guesses, "{unlocked:?}");
    }
    // The same accounts crowded behind ten addresses (a botnet's few exits, or one NAT).
    let day = simulate(rules, 1_000, 10, false);
    let prompts = expected_prompts(day.wrong_guesses, 10_000);
    eprintln!(
        "1,000 accounts on 10 addresses: {day:?}, expected prompts reached {prompts:.4} a day"
    );
    assert!(prompts <= 0.05, "{day:?}: {prompts}");
    assert_eq!(day.right_refused, 0, "{day:?}");
}

#[test]
fn the_old_reset_on_success_rule_would_have_failed_the_same_day() {
    // One account, one address, the own-agent trick: with the new budgets it gets its account's
    // budget and no more, where the old throttle allowed ~6,900 an hour.
    let day = simulate(GuessRules::default(), 1, 1, true);
    let budget = GuessRules::default().account.per_day();
    assert!(
        (budget - 1..=budget).contains(&day.wrong_guesses),
        "{day:?}, budget {budget}"
    );
}
