//! The ketama continuum against libmemcached's own test vectors, and the properties a
//! consistent hash must have: even spread, and removing a server moves only its keys.

use tailcache_bench::ketama::{key_hash, point_name, points_for, Continuum, Node};

/// libmemcached's tests/ketama_test_cases.h (awesomized/libmemcached; the installed
/// libmemcached 1.1.4 gives the same answers): key, its MD5 hash, the continuum point
/// it lands on, and the server (10.0.1.N) that owns that point, for the weighted pool
/// of [`libmemcached_pool`].
const LIBMEMCACHED_CASES: [(&str, u32, u32, usize); 99] = [
    (r"SVa_]_V41)", 443691461, 445379617, 7),
    (r"*/Z;?V(.\8", 1422915503, 1428303028, 1),
    (r"30C1*Z*S/_", 1473165754, 1480075959, 2),
    (r"ERR:EC58G>", 2148406511, 2168579133, 7),
    (r"1I=cTMNTKF", 2882686667, 2885206587, 5),
    (r"]VG<`I*Z8)", 1103544263, 1104827657, 5),
    (r"UUTC`-V159", 3716288206, 3727224240, 5),
    (r"@7RU6C6T+Z", 3862737685, 3871917949, 5),
    (r"/XLN0@+36;", 1623269830, 1627683651, 1),
    (r"4(`X;\V.^c", 373546328, 383925769, 1),
    (r"726bW=9*a4", 4213440020, 4213950705, 7),
    (r"\`)<B)UE,c", 951096736, 955226069, 1),
    (r"P1[Ma3=K1/", 1989324036, 1994028240, 8),
    (r"C89I.-V?cT", 1604239957, 1606398093, 8),
    (r"D[HE+cFXDK", 2117036136, 2117124014, 3),
    (r"P1L?NAB[)K", 2129972569, 2132542634, 1),
    (r"cDT0)Z5P6,", 176485284, 178675413, 5),
    (r"@JW`+[WAO8", 2720940826, 2743975456, 5),
    (r"\39DKW^)N_", 3548879868, 3550704865, 3),
    (r"EM75N0+[X1", 1558531507, 1559308507, 4),
    (r"`,SS]NBP,b", 1883545960, 1884847278, 1),
    (r"XX1a9LT+F?", 653487707, 656410408, 5),
    (r"Zc\-,F-c6V", 1160802451, 1171575728, 5),
    (r"1*RTMC7,03", 1602398012, 1606398093, 8),
    (r"*Xc+V0P>32", 536016577, 539988520, 7),
    (r"U))Fb-(`,.", 4128682289, 4136854163, 7),
    (r"R-08RNTaRT", 3718170086, 3727224240, 5),
    (r"(LHcO203I3", 1007779411, 1014643570, 5),
    (r"=256P+;Qc8", 3976201210, 3976304873, 5),
    (r"OI5XZ_BBT(", 2155922164, 2168579133, 7),
    (r"2TLRL/UL;:", 1086800909, 1095659802, 7),
    (r"WHD\O1`ZRW", 3087923411, 3095471560, 5),
    (r".=54)_c;=T", 2497691631, 2502731301, 1),
    (r";G<W-XWZ@b", 2888169733, 2888728739, 5),
    (r"(,>E`)FT\4", 580747448, 581063326, 2),
    (r"HZAU*;P*N]", 2564670474, 2565697267, 7),
    (r"NZ@ZE=O84_", 533335275, 539988520, 7),
    (r"6,cEI`F_P>", 3972869246, 3974773167, 6),
    (r"c,5AQ/T5)6", 2835605783, 2847870057, 8),
    (r".O,>>BT)RX", 3857978174, 3871917949, 5),
    (r"XY\X::LX50", 1749241099, 1752196488, 6),
    (r"+550F^/.01", 3781824099, 3783248219, 6),
    (r"<.X9E2S5+9", 3232479481, 3234387706, 7),
    (r"]\.UH8_0a1", 2419699252, 2423002920, 4),
    (r"8(6=(T0/Z0", 728266737, 729026070, 7),
    (r"8*6a;Sc*X+", 4223431086, 4230156966, 2),
    (r"<QW:;3K6;H", 2731158143, 2743975456, 5),
    (r"7C@EY@-Y?_", 760770733, 761576669, 5),
    (r"aPb3E1WD4K", 2500489218, 2502731301, 1),
    (r"?@12R<=1BH", 1494795329, 1502505505, 8),
    (r"QR(a+Q=1FU", 3238535074, 3238996435, 6),
    (r"`C9^FV,960", 2628553463, 2628733766, 6),
    (r"UNHVP..^8H", 977096483, 977319837, 4),
    (r":Y.2W2[(35", 2777083668, 2784182515, 7),
    (r"M/HV^_HZ4O", 3623390946, 3624445007, 7),
    (r"ZY16KQ<ICD", 1831153193, 1838563516, 4),
    (r"bV2,`a.PY9", 1962228869, 1962648654, 1),
    (r"U;9:-+5N]9", 269504649, 277560877, 1),
    (r"1S/:aJ[1(;", 578069729, 581063326, 2),
    (r"Nb-X^]M)I:", 330865696, 331009896, 6),
    (r"2;M;ES>J5/", 2776949824, 2784182515, 7),
    (r"[>RZHG97Q9", 71954686, 72034069, 6),
    (r"J3/G[)9<^Z", 2799896459, 2805183696, 7),
    (r"N-)88>[O`,", 50404102, 51792557, 5),
    (r"NP:=FR\OaA", 3837333776, 3837792034, 7),
    (r"`@L+W;a,O[", 1512157148, 1522285852, 6),
    (r"W2`P:-+1T[", 2945171975, 2946196424, 5),
    (r"-6G7K^YDIN", 3168617340, 3170513015, 7),
    (r"U>*>9ZI6V5", 668514946, 674097631, 6),
    (r".I?^6Ic9RK", 938419020, 942832691, 6),
    (r"0OZH^9BKM[", 3682518606, 3686781297, 8),
    (r"5?50UGZ:ML", 868610882, 869425986, 5),
    (r"?K2NF@3=IU", 381218851, 383925769, 1),
    (r"YI@G-2X?UB", 3688706179, 3693197681, 5),
    (r"7cY</BSaL=", 3976870223, 3978903843, 6),
    (r"A(`KF:[RH8", 3292979676, 3294849139, 6),
    (r";=ZT\W^P+H", 1401102653, 1416290674, 4),
    (r"b2?WFF56;R", 480494704, 486971192, 4),
    (r"CTR74,J+N.", 137446045, 146633907, 8),
    (r"<b;*R+QDST", 1304985302, 1308223778, 5),
    (r"\R^7=9UCG`", 126218373, 129199837, 5),
    (r"1bQS5]WOXB", 1853470245, 1855329369, 4),
    (r"M(@X^b[L:K", 3019630308, 3022260113, 1),
    (r"431cBF8,YO", 1679726993, 1685224295, 7),
    (r"(bEIQJ:E./", 2922607787, 2925521819, 6),
    (r"WS/3H*)7F;", 419488232, 422140585, 5),
    (r"ZJF[Ia6Q)+", 3960568056, 3962489998, 7),
    (r"<]*QCK8U,>", 2590140172, 2598117636, 7),
    (r"\[a\^=V_M0", 689410119, 698690782, 6),
    (r"7;RM+8J9YC", 1530175299, 1531107082, 7),
    (r"4*=.SPR[AV", 3928582722, 3928853792, 1),
    (r"-2F+^88P4U", 3023552752, 3025823613, 7),
    (r"X;-F`(N?9D", 570465234, 572485994, 7),
    (r"R=F_D-K2a]", 1287750228, 1290935562, 7),
    (r"X*+2aaC.EG", 3200948713, 3201088518, 5),
    (r"[1ZXONX2]a", 4108881567, 4109865744, 4),
    (r"FL;\GWacaV", 458449508, 467374054, 4),
    (r"\MQ_XNT7L-", 1259349383, 1259509450, 7),
    (r"VD6D0]ba_\", 3842502950, 3842588691, 1),
];

/// "10.0.1.1:11211 600,10.0.1.2:11211 300,...": port 11211, so points hash "10.0.1.N-i".
fn libmemcached_pool() -> Vec<Node> {
    [600, 300, 200, 350, 1000, 800, 950, 100]
        .iter()
        .enumerate()
        .map(|(i, &weight)| Node {
            name: point_name(&format!("10.0.1.{}", i + 1), 11211),
            weight,
        })
        .collect()
}

fn equal(names: &[&str]) -> Vec<Node> {
    names
        .iter()
        .map(|n| Node {
            name: n.to_string(),
            weight: 1,
        })
        .collect()
}

#[test]
fn libmemcached_weighted_ketama_vectors() {
    let ring = Continuum::new(&libmemcached_pool()).unwrap();
    for (key, hash, point, server) in LIBMEMCACHED_CASES {
        assert_eq!(key_hash(key.as_bytes()), hash, "hash of {key:?}");
        let i = ring.points().partition_point(|p| p.0 < hash);
        assert_eq!(ring.points()[i].0, point, "point of {key:?}");
        assert_eq!(
            ring.server_of_key(key.as_bytes()) + 1,
            server,
            "server of {key:?}"
        );
    }
    // libmemcached: "VDEAAAAA hashes to fffcd1b5, after the last continuum point".
    assert_eq!(key_hash(b"VDEAAAAA"), 0xfffc_d1b5);
    assert!(ring.points().last().unwrap().0 < 0xfffc_d1b5);
    assert_eq!(ring.server_of_key(b"VDEAAAAA"), ring.points()[0].1 as usize);
}

/// (host, port, weight) of each server.
type Pool<'a> = &'a [(&'a str, u16, u32)];

fn ring(pool: Pool<'_>) -> Continuum {
    let nodes: Vec<Node> = pool
        .iter()
        .map(|&(host, port, weight)| Node {
            name: point_name(host, port),
            weight,
        })
        .collect();
    Continuum::new(&nodes).unwrap()
}

fn servers_of_keys(ring: &Continuum, keys: std::ops::Range<u64>) -> Vec<usize> {
    keys.map(|k| ring.server_of_key(format!("key:{k}").as_bytes()))
        .collect()
}

#[test]
fn fixed_mappings_match_libmemcached() {
    // Servers of key:0 .. key:11 as libmemcached 1.1.4 places them with
    // MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (memcached_generate_hash on
    // memcached_servers_parse("127.0.0.1:11311 1,...")): a change to the point names,
    // the hash, the point count or the lookup fails here.
    let cases: [(Pool<'_>, [usize; 12]); 3] = [
        (
            &[
                ("127.0.0.1", 11311, 1),
                ("127.0.0.1", 11312, 1),
                ("127.0.0.1", 11313, 1),
            ],
            [2, 1, 2, 1, 0, 1, 0, 0, 2, 2, 1, 2],
        ),
        // Port 11211 is left out of the point names ("127.0.0.1-0", ...).
        (
            &[
                ("127.0.0.1", 11211, 1),
                ("127.0.0.1", 11212, 1),
                ("127.0.0.2", 11211, 1),
            ],
            [1, 0, 0, 2, 0, 1, 0, 0, 2, 1, 2, 0],
        ),
        (
            &[
                ("127.0.0.1", 5000, 3),
                ("127.0.0.1", 5001, 1),
                ("127.0.0.1", 5002, 2),
            ],
            [0, 2, 0, 1, 0, 0, 0, 1, 2, 2, 2, 2],
        ),
    ];
    for (pool, expected) in cases {
        assert_eq!(servers_of_keys(&ring(pool), 0..12), expected, "{pool:?}");
    }
}

#[test]
fn points_follow_the_c_clients_float_rounding() {
    assert_eq!(points_for(1, 3, 3), 160);
    // 1/25 in f32 times 40 times 25 lands just under 40: 39 hashes of 4 points (as in
    // libmemcached 1.1.4, whose ring of 25 equal servers this one matches on 20k keys).
    assert_eq!(points_for(1, 25, 25), 156);
    assert_eq!(points_for(3, 6, 3), 240);
    let many: Vec<String> = (1..=25).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        Continuum::new(&equal(&names)).unwrap().points().len(),
        25 * 156
    );
    assert!(Continuum::new(&[]).is_err());
    let tiny = [
        Node {
            name: "a".into(),
            weight: 1,
        },
        Node {
            name: "b".into(),
            weight: 1_000_000,
        },
    ];
    assert!(Continuum::new(&tiny).unwrap_err().contains("no point"));
}

#[test]
fn three_servers_share_100k_keys_evenly() {
    let ring = ring(&[
        ("127.0.0.1", 11311, 1),
        ("127.0.0.1", 11312, 1),
        ("127.0.0.1", 11313, 1),
    ]);
    let mut counts = [0u32; 3];
    for s in servers_of_keys(&ring, 0..100_000) {
        counts[s] += 1;
    }
    for (i, c) in counts.iter().enumerate() {
        assert!((25_000..=42_000).contains(c), "server {i}: {counts:?}");
    }
}

#[test]
fn removing_a_server_moves_only_its_keys() {
    let all = Continuum::new(&equal(&["a:1", "b:2", "c:3"])).unwrap();
    let without_b = Continuum::new(&equal(&["a:1", "c:3"])).unwrap();
    let mut moved = 0;
    for k in 0..100_000u64 {
        let key = format!("key:{k}");
        let before = all.server_of_key(key.as_bytes());
        let after = without_b.server_of_key(key.as_bytes());
        // Index 1 of the smaller ring is c, index 2 of the larger.
        let after_in_all = [0, 2][after];
        if before == 1 {
            moved += 1;
        } else {
            assert_eq!(before, after_in_all, "{key} moved off a server that stayed");
        }
    }
    assert!(moved > 20_000, "b held {moved} keys");
}
