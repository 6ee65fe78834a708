use super::*;
use clap::Parser;

fn load(args: &[&str]) -> Result<Config, ConfigError> {
    let mut argv = vec!["tailcache"];
    argv.extend_from_slice(args);
    Config::load(&Flags::try_parse_from(argv).expect("flags parse"))
}

#[test]
fn notls_keeps_an_interface_plain_under_minus_z_only() {
    let tls_of = |config: &Config| -> Vec<bool> {
        config.data_addrs().unwrap().iter().map(|a| a.tls).collect()
    };
    let config = load(&[
        "-Z",
        "-o",
        "ssl_chain_cert=/c.pem",
        "-l",
        "notls:127.0.0.1:11311,127.0.0.1:11411",
    ])
    .unwrap();
    assert_eq!(tls_of(&config), [false, true]);
    let error = load(&["-l", "notls:127.0.0.1:11311"]).unwrap_err();
    assert!(matches!(error, ConfigError::Conflict { .. }), "{error:?}");
    assert!(
        error.reason().contains("only when SSL is enabled"),
        "{error}"
    );
}

#[test]
fn defaults_resolve() {
    let config = load(&[]).unwrap();
    assert_eq!(config.port, 11211);
    assert!(config.threads >= 1);
    assert_eq!(config.segment_size_bytes, 1 << 20);
    assert_eq!(config.memory_limit_mib, 64);
    // Off by default, so a second instance on another port starts too.
    assert_eq!(config.admin_socket_addr().unwrap(), None);
    assert!(config.flush_enabled && config.dump_enabled);
    let off = load(&["-F", "-X"]).unwrap();
    assert!(!off.flush_enabled && !off.dump_enabled);
}

#[test]
fn a_small_memory_limit_gets_smaller_segments_and_item_limit() {
    let small = load(&["-m", "2"]).unwrap();
    assert_eq!(small.segment_size_bytes, 256 << 10);
    assert_eq!(small.max_item_size_bytes, 256 << 10);
    let tiny = load(&["-m", "3"]).unwrap();
    assert_eq!(tiny.segment_size_bytes, 256 << 10);
    // Explicit segment sizes are left alone (and may then be refused).
    let explicit = load(&["-m", "2", "--segment-size", "1m"]).unwrap();
    assert_eq!(explicit.segment_size_bytes, 1 << 20);
    assert_eq!(load(&["-m", "8"]).unwrap().segment_size_bytes, 1 << 20);
    // An item limit over half of -m is refused, not adapted (memcached refuses it).
    assert!(load(&["-I", "256m"]).is_err());
    assert!(load(&["-m", "1"]).is_err(), "-I 1m is over half of -m 1");
}

#[test]
fn memcached_flags_map() {
    let config = load(&["-m", "128", "-I", "512k", "-M", "-C", "-t", "3", "-c", "10"]).unwrap();
    assert_eq!(config.memory_limit_mib, 128);
    assert_eq!(config.max_item_size_bytes, 512 << 10);
    assert_eq!(config.eviction, EvictionName::None);
    assert!(!config.cas_enabled);
    assert_eq!(config.threads, 3);
    assert_eq!(config.conn_limit, 10);
    assert_eq!(config.segment_size_bytes, 1 << 20);
}

#[test]
fn listen_forms() {
    let config = load(&[
        "-l",
        "127.0.0.1,::1",
        "-l",
        "127.0.0.2:7000",
        "--resp-port",
        "6400",
    ])
    .unwrap();
    let addrs = config.data_addrs().unwrap();
    let shown: Vec<String> = addrs
        .iter()
        .map(|a| format!("{:?} {:?}", a.protocol, a.addr))
        .collect();
    assert_eq!(addrs.len(), 6, "{shown:?}");
    assert!(shown
        .iter()
        .any(|s| s.contains("127.0.0.2:7000") && s.contains("Memcache")));
    assert!(shown
        .iter()
        .any(|s| s.contains("127.0.0.2:6400") && s.contains("Resp")));
    assert!(shown.iter().any(|s| s.contains("[::1]:11211")));
}

#[test]
fn segment_too_small_for_item_names_the_flag() {
    let err = load(&["-I", "2m", "--segment-size", "1m"]).unwrap_err();
    assert!(err.setting().contains("--segment-size"), "{err}");
}

#[test]
fn toml_round_trip_and_flags_override() {
    let config = load(&["-m", "100", "--http-port", "8080"]).unwrap();
    let text = config.to_toml();
    let back: Config = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
    let dir = std::env::temp_dir().join(format!("tailcache-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "memory_limit_mib = 32\nport = 1234\n").unwrap();
    let path_text = path.to_str().unwrap();
    let merged = load(&["--config", path_text, "-p", "4321"]).unwrap();
    assert_eq!(merged.memory_limit_mib, 32);
    assert_eq!(merged.port, 4321);
    std::fs::write(&path, "memory_limit = 32\n").unwrap();
    let err = load(&["--config", path_text]).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_protocols_on_one_port_is_an_error() {
    let err = load(&["-p", "7000", "--resp-port", "7000"]).unwrap_err();
    assert!(err.setting().contains("--resp-port"), "{err}");
    // Port 0 means "any free port" for each, so it never clashes.
    assert!(load(&["-p", "-1", "--resp-port", "0", "--http-port", "0"]).is_ok());
}

#[test]
fn bad_admin_addr_is_named() {
    let err = load(&["--admin-addr", "nonsense"]).unwrap_err();
    assert!(err.setting().contains("--admin-addr"));
    assert_eq!(
        load(&["--admin-addr", "off"])
            .unwrap()
            .admin_socket_addr()
            .unwrap(),
        None
    );
}

#[test]
fn each_kind_of_config_error_is_its_own_variant() {
    let invalid = load(&["--admin-addr", "nonsense"]).unwrap_err();
    assert!(
        matches!(invalid, ConfigError::Invalid { .. }),
        "{invalid:?}"
    );
    let unserved = load(&["-S"]).unwrap_err();
    assert!(
        matches!(unserved, ConfigError::Unserved { .. }),
        "{unserved:?}"
    );
    let unreadable = load(&["--config", "/nonexistent/tailcache.toml"]).unwrap_err();
    assert!(
        matches!(unreadable, ConfigError::Unreadable { .. }),
        "{unreadable:?}"
    );
    // The message is the same for every kind: the setting, then what is wrong.
    assert!(unreadable
        .to_string()
        .starts_with("invalid --config /nonexistent/tailcache.toml: "));
}
