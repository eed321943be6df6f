//! One answer, for webhooks and TURN peers alike, to "is this a public address the relay may
//! talk to?". IPv6 forms that carry or translate an IPv4 address (IPv4-mapped `::ffff:0:0/96`,
//! IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the IPv4 they
//! lead to, so `[::127.0.0.1]` or `64:ff9b::a00:1` cannot reach the relay's own network through
//! a translator. The ranges are IANA's special-purpose registries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};

/// IPv4 blocks that are not globally reachable unicast (IANA IPv4 special-purpose registry, plus
/// multicast and the reserved 240/4).
const V4_SPECIAL: &[&str] = &[
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private
    "100.64.0.0/10",   // carrier-grade NAT
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation
    "192.88.99.0/24",  // 6to4 relay anycast (deprecated)
    "192.168.0.0/16",  // private
    "198.18.0.0/15",   // benchmarking
    "198.51.100.0/24", // documentation
    "203.0.113.0/24",  // documentation
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, and the limited broadcast address
];

/// IPv6 blocks inside global unicast (2000::/3) that are not globally reachable unicast or
/// cannot be judged: IETF protocol assignments (Teredo's 2001::/32 among them: its client
/// address is obfuscated and reached through a tunnel), documentation.
const V6_SPECIAL: &[&str] = &[
    "2001::/23",     // IETF protocol assignments: Teredo, benchmarking, ORCHID
    "2001:db8::/32", // documentation
    "3fff::/20",     // documentation
];

/// NAT64 prefixes: the well-known one, which carries an IPv4 address in its last 32 bits, and
/// the local-use one, whose layout only its network knows.
const NAT64_WELL_KNOWN: &str = "64:ff9b::/96";
const NAT64_LOCAL_USE: &str = "64:ff9b:1::/48";
const SIX_TO_FOUR: &str = "2002::/16";
const GLOBAL_UNICAST: &str = "2000::/3";

struct Tables {
    v4: Vec<Ipv4Net>,
    v6: Vec<Ipv6Net>,
    nat64: Ipv6Net,
    nat64_local: Ipv6Net,
    six_to_four: Ipv6Net,
    global: Ipv6Net,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let v6 = |s: &str| s.parse::<Ipv6Net>().expect("a valid IPv6 block");
    Tables {
        v4: V4_SPECIAL
            .iter()
            .map(|s| s.parse().expect("a valid IPv4 block"))
            .collect(),
        v6: V6_SPECIAL.iter().map(|s| v6(s)).collect(),
        nat64: v6(NAT64_WELL_KNOWN),
        nat64_local: v6(NAT64_LOCAL_USE),
        six_to_four: v6(SIX_TO_FOUR),
        global: v6(GLOBAL_UNICAST),
    }
});

/// The IPv4 address `v6` carries or translates to, if it is one of the forms that do.
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let t = &*TABLES;
    let bits = u128::from(v6);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if bits >> 32 == 0 || t.nat64.contains(&v6) {
        // IPv4-compatible (::a.b.c.d, deprecated; :: and ::1 land in 0.0.0.0/8) or NAT64.
        return Some(Ipv4Addr::from(bits as u32));
    }
    if t.six_to_four.contains(&v6) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

/// Whether the relay may talk to `ip`: a globally reachable unicast address, with IPv6 forms
/// that lead to an IPv4 address judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    let t = &*TABLES;
    match ip {
        IpAddr::V4(v4) => !t.v4.iter().any(|n| n.contains(&v4)),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            t.global.contains(&v6)
                && !t.nat64_local.contains(&v6)
                && !t.v6.iter().any(|n| n.contains(&v6))
        }
    }
}

/// The block one client holds, which per-address limits count by: an IPv4 address (IPv4-mapped
/// IPv6 read as IPv4), or an IPv6 address's /64, since one host is routinely given a whole /64
/// and could otherwise take a fresh address for every connection.
pub fn client_block(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// `ip` as the relay compares addresses: an IPv4-mapped IPv6 address is its IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Every special block, for tests.
#[cfg(test)]
fn special_blocks() -> Vec<ipnet::IpNet> {
    use ipnet::IpNet;
    let t = &*TABLES;
    t.v4.iter()
        .copied()
        .map(IpNet::V4)
        .chain(t.v6.iter().copied().map(IpNet::V6))
        .chain([IpNet::V6(t.nat64_local)])
        .collect()
}

#[cfg(test)]
mod tests;
