//! The address classifier's own tests: named ranges, and properties over every IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;

fn public(s: &str) -> bool {
    is_public(s.parse().unwrap())
}

#[test]
fn public_and_special_addresses() {
    for ip in [
        "8.8.8.8",
        "1.1.1.1",
        "2001:4860:4860::8888",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert!(public(ip), "{ip}");
    }
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.7",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fec0::1",
        "fd00::1",
        "ff02::1",
        "100::1",
        "2001:db8::1",
        "3fff::1",
        "2001::1",
        "::ffff:127.0.0.1",
        // Forms that embed or translate a private IPv4 address.
        "::127.0.0.1",
        "::10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b::c0a8:101",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "2002:a00:1::",
    ] {
        assert!(!public(ip), "{ip}");
    }
}

#[test]
fn a_client_block_is_an_ipv4_address_or_an_ipv6_64() {
    let block = |s: &str| client_block(s.parse().unwrap()).to_string();
    assert_eq!(block("192.0.2.7"), "192.0.2.7");
    assert_eq!(block("::ffff:192.0.2.7"), "192.0.2.7");
    assert_eq!(block("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
    assert_eq!(
        block("2001:db8:1:2::"),
        block("2001:db8:1:2:ffff:ffff:ffff:ffff")
    );
}

fn v4_forms(v4: Ipv4Addr) -> [Ipv6Addr; 4] {
    let b = u32::from(v4) as u128;
    [
        v4.to_ipv6_mapped(),
        Ipv6Addr::from(b), // IPv4-compatible
        Ipv6Addr::from((0x64_ff9b_u128 << 96) | b),
        // 6to4 with an arbitrary subnet and interface.
        Ipv6Addr::from((0x2002_u128 << 112) | (b << 80) | 0x1_0000_0000_0001),
    ]
}

proptest! {
    #[test]
    fn every_ipv6_form_of_an_ipv4_address_is_judged_as_that_address(bits: u32) {
        let v4 = Ipv4Addr::from(bits);
        for v6 in v4_forms(v4) {
            prop_assert_eq!(embedded_ipv4(v6), Some(v4), "{}", v6);
            prop_assert_eq!(is_public(IpAddr::V6(v6)), is_public(IpAddr::V4(v4)), "{}", v6);
        }
    }

    #[test]
    fn nothing_in_a_special_block_is_public(pick: prop::sample::Index, host: u128) {
        let blocks = special_blocks();
        let net = blocks[pick.index(blocks.len())];
        let ip = match net {
            IpNet::V4(n) => {
                let mask = u32::MAX.checked_shr(u32::from(n.prefix_len())).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | (host as u32 & mask)))
            }
            IpNet::V6(n) => {
                let mask = u128::MAX.checked_shr(u32::from(n.prefix_len())).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | (host & mask)))
            }
        };
        prop_assert!(net.contains(&ip));
        prop_assert!(!is_public(ip), "{} in {}", ip, net);
    }

    #[test]
    fn ipv6_outside_global_unicast_is_never_public_unless_it_carries_ipv4(bits: u128) {
        let v6 = Ipv6Addr::from(bits);
        prop_assume!(embedded_ipv4(v6).is_none());
        if bits >> 125 != 0b001 {
            prop_assert!(!is_public(IpAddr::V6(v6)), "{}", v6);
        }
    }
}
