//! The S3 checkpoint storage against a real S3-compatible server (moto, in
//! memory, on loopback): the same semantics as the file system storage.

#![cfg(feature = "s3")]

mod moto;

use moto::Moto;
use runnel_checkpoint::{CheckpointStorage, S3Options, S3Storage, storage_for};
use std::path::Path;

fn options(moto: &Moto) -> S3Options {
    S3Options {
        endpoint: Some(moto.endpoint()),
        access_key: Some("testing".to_string()),
        secret_key: Some("testing".to_string()),
        region: Some("us-east-1".to_string()),
        path_style_access: Some(true),
    }
}

/// The storage at `url` of a fresh server with bucket `bucket`.
fn storage(moto: &Moto, url: &str) -> S3Storage {
    S3Storage::new(url, &options(moto)).unwrap()
}

#[test]
fn s3_storage_keeps_files_like_a_file_system() {
    let Some(moto) = Moto::start("s3_storage_keeps_files_like_a_file_system") else {
        return;
    };
    moto.create_bucket("ckpt");
    let s = storage(&moto, "s3://ckpt/runs/");
    s.write("job/chk-1/a", b"one").unwrap();
    s.write("job/chk-1/b", b"two").unwrap();
    s.write("job/chk-2/a", b"three").unwrap();
    s.write("job/chk-10/_metadata", b"ten").unwrap();
    s.write("job/top", b"file").unwrap();
    assert_eq!(s.read("job/chk-1/b").unwrap(), b"two");
    s.write("job/chk-1/b", b"replaced").unwrap();
    assert_eq!(s.read("job/chk-1/b").unwrap(), b"replaced");
    s.write("job/empty", b"").unwrap();
    assert_eq!(s.read("job/empty").unwrap(), b"");

    assert!(s.exists("job/chk-2/a").unwrap());
    assert!(!s.exists("job/chk-3/a").unwrap());
    assert!(!s.exists("job/chk-2").unwrap(), "a directory is not a file");

    assert_eq!(
        s.list("job").unwrap(),
        ["chk-1", "chk-10", "chk-2", "empty", "top"],
        "files and directories, sorted"
    );
    assert_eq!(s.list("job/").unwrap(), s.list("job").unwrap());
    assert_eq!(s.list("job/chk-1").unwrap(), ["a", "b"]);
    assert_eq!(s.list("").unwrap(), ["job"]);
    assert!(s.list("nothing").unwrap().is_empty());
    assert!(s.list("job/ch").unwrap().is_empty(), "not a name prefix");

    s.delete_dir("job/chk-1").unwrap();
    assert_eq!(
        s.list("job").unwrap(),
        ["chk-10", "chk-2", "empty", "top"],
        "chk-10 shares a name prefix with chk-1 but is not under it"
    );
    s.delete_dir("job/chk-9").unwrap();

    let err = s.read("job/chk-1/a").unwrap_err().to_string();
    assert!(err.contains("s3://ckpt/runs/job/chk-1/a"), "{err}");
    assert!(err.contains("no such file"), "{err}");

    // The objects sit under the prefix with the file system's names.
    let mut keys = moto.keys("ckpt", "");
    keys.sort();
    assert_eq!(
        keys,
        [
            "runs/job/chk-10/_metadata",
            "runs/job/chk-2/a",
            "runs/job/empty",
            "runs/job/top"
        ]
    );
    s.delete_dir("").unwrap();
    assert!(moto.keys("ckpt", "").is_empty());
}

#[test]
fn storage_for_an_s3_url_reaches_the_bucket_and_large_files_are_uploaded_in_parts() {
    let Some(moto) = Moto::start("storage_for_an_s3_url") else {
        return;
    };
    moto.create_bucket("big");
    let s = storage_for(Path::new("s3://big"), &options(&moto)).unwrap();
    assert_eq!(s.location("chk-1/_metadata"), "s3://big/chk-1/_metadata");
    let large: Vec<u8> = (0..40 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    s.write("chk-1/state", &large).unwrap();
    assert!(
        s.read("chk-1/state").unwrap() == large,
        "a multipart upload"
    );
    assert_eq!(s.list("").unwrap(), ["chk-1"]);
}

#[test]
fn writers_on_several_threads_share_one_storage() {
    let Some(moto) = Moto::start("writers_on_several_threads_share_one_storage") else {
        return;
    };
    moto.create_bucket("shared");
    let s = storage(&moto, "s3://shared/p");
    std::thread::scope(|scope| {
        for t in 0..4 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..10 {
                    s.write(&format!("t{t}/f{i}"), format!("{t}-{i}").as_bytes())
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(s.list("").unwrap(), ["t0", "t1", "t2", "t3"]);
    assert_eq!(s.list("t3").unwrap().len(), 10);
    assert_eq!(s.read("t2/f7").unwrap(), b"2-7");
}

#[test]
fn a_missing_bucket_is_an_error_naming_the_url() {
    let Some(moto) = Moto::start("a_missing_bucket_is_an_error_naming_the_url") else {
        return;
    };
    let s = storage(&moto, "s3://no-such-bucket/x");
    let err = s.write("a", b"1").unwrap_err().to_string();
    assert!(err.contains("s3://no-such-bucket/x/a"), "{err}");
}
