//! Parser tests: no sockets, just bytes.

use super::*;

const LIMITS: Limits = Limits {
    request_line: 64,
    head: 256,
    headers: 8,
    body: 32,
};

fn parse_all(wire: &[u8]) -> Result<Vec<Parsed>, HttpError> {
    let mut parser = Parser::new(LIMITS);
    parser.push(wire);
    let mut out = Vec::new();
    while let Some(parsed) = parser.next_request()? {
        out.push(parsed);
    }
    Ok(out)
}

fn parse_one(wire: &str) -> Result<Parsed, HttpError> {
    let mut all = parse_all(wire.as_bytes())?;
    assert_eq!(all.len(), 1, "{wire:?}");
    Ok(all.remove(0))
}

fn status_of(wire: &str) -> u16 {
    let mut parser = Parser::new(LIMITS);
    parser.push(wire.as_bytes());
    match parser.next_request() {
        Err(e) => e.status,
        Ok(Some(p)) => panic!("{wire:?} parsed as {:?}", p.request),
        Ok(None) => panic!("{wire:?} is incomplete"),
    }
}

#[test]
fn parses_a_simple_request() {
    let p = parse_one("GET /jobs/j1?mode=cancel HTTP/1.1\r\nHost: x\r\nX-A:  b \r\n\r\n").unwrap();
    assert_eq!(p.request.method(), Method::Get);
    assert_eq!(p.request.path(), "/jobs/j1");
    assert_eq!(p.request.query("mode"), Some("cancel"));
    assert_eq!(p.request.header("x-a"), Some("b"));
    assert!(p.request.body().is_empty());
    assert!(p.keep_alive);
}

#[test]
fn split_reads_give_the_same_request_as_one_read() {
    let wires = [
        "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    ];
    for wire in wires {
        let whole = parse_one(wire).unwrap();
        let mut parser = Parser::new(LIMITS);
        let mut got = None;
        for (i, b) in wire.bytes().enumerate() {
            parser.push(&[b]);
            if let Some(p) = parser.next_request().unwrap() {
                assert_eq!(i, wire.len() - 1, "complete before the last byte");
                got = Some(p);
            }
        }
        let got = got.expect("request never completed");
        assert_eq!(got.request, whole.request);
        assert_eq!(got.request.body(), b"hello world");
        assert!(parser.is_idle());
    }
}

#[test]
fn pipelined_requests_come_out_in_order() {
    let wire = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
        POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
        DELETE /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /d";
    let mut parser = Parser::new(LIMITS);
    parser.push(wire);
    let mut seen = Vec::new();
    while let Some(p) = parser.next_request().unwrap() {
        seen.push((
            p.request.method(),
            p.request.path().to_owned(),
            p.request.body().to_vec(),
            p.keep_alive,
        ));
    }
    assert_eq!(
        seen,
        [
            (Method::Get, "/a".to_owned(), vec![], true),
            (Method::Post, "/b".to_owned(), b"abc".to_vec(), true),
            (Method::Delete, "/c".to_owned(), vec![], false),
        ]
    );
    assert!(
        !parser.is_idle(),
        "the partial fourth request stays buffered"
    );
}

#[test]
fn tolerates_bare_lf_and_leading_blank_lines() {
    let p = parse_one("\r\n\nGET / HTTP/1.1\nHost: x\n\n").unwrap();
    assert_eq!(p.request.path(), "/");
}

#[test]
fn keep_alive_follows_version_and_connection_header() {
    let cases = [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: Close\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive, close\r\n", false),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
    ];
    for (version, extra, keep_alive) in cases {
        let p = parse_one(&format!("GET / {version}\r\nHost: x\r\n{extra}\r\n")).unwrap();
        assert_eq!(p.keep_alive, keep_alive, "{version} {extra:?}");
    }
}

#[test]
fn limits_are_enforced_before_the_data_is_complete() {
    let mut parser = Parser::new(LIMITS);
    parser.push(&[b'G'; 65]);
    assert_eq!(parser.next_request().unwrap_err().status, 414);

    let mut parser = Parser::new(LIMITS);
    parser.push(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    assert!(parser.next_request().unwrap().is_none());
    parser.push(&[b'a'; 256]);
    assert_eq!(parser.next_request().unwrap_err().status, 431);

    let many: String = (0..9).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        status_of(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")),
        431
    );

    // 413 comes from the head alone: no body byte has been sent.
    assert_eq!(
        status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n"),
        413
    );
    let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n";
    assert!(
        parse_all(chunked.as_bytes()).unwrap().is_empty(),
        "32 bytes are allowed"
    );
    assert_eq!(
        status_of(&format!("{chunked}{}\r\n1\r\n", "x".repeat(32))),
        413
    );
}

#[test]
fn bad_requests_get_the_right_status() {
    let table = [
        ("\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03\r\n\r\n", 400), // a TLS hello
        ("GARBAGE\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTQ/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        ("POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417),
    ];
    for (wire, status) in table {
        assert_eq!(status_of(wire), status, "{wire:?}");
    }
}

#[test]
fn identical_repeated_content_length_is_accepted() {
    let p =
        parse_one("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    assert_eq!(p.request.body(), b"ok");
}

#[test]
fn expect_continue_is_offered_once_before_the_body() {
    let mut parser = Parser::new(LIMITS);
    parser.push(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert!(parser.next_request().unwrap().is_none());
    assert!(parser.take_expect_continue());
    assert!(!parser.take_expect_continue());
    parser.push(b"ok");
    assert_eq!(
        parser.next_request().unwrap().unwrap().request.body(),
        b"ok"
    );

    let mut parser = Parser::new(LIMITS);
    parser.push(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
    assert!(parser.next_request().unwrap().is_some());
    assert!(
        !parser.take_expect_continue(),
        "no body, nothing to wait for"
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic 64-bit LCG: failures reproduce.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    let seed = b"POST /a/%41?b=c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    for _ in 0..3000 {
        let mut bytes = seed.to_vec();
        for _ in 0..=next() % 8 {
            let at = next() % bytes.len();
            bytes[at] = b"\r\n: %0aZ\x00\xff;"[next() % 11];
        }
        let mut parser = Parser::new(LIMITS);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + next() % rest.len();
            parser.push(&rest[..n]);
            rest = &rest[n..];
            match parser.next_request() {
                Ok(_) => {}
                Err(e) => {
                    assert!((400..600).contains(&e.status), "{e}");
                    break;
                }
            }
        }
    }
}
