use super::*;

#[test]
fn paths_are_relative_and_plain() {
    for ok in ["a.seg", "archive/00000000000000000001.seg", "snapshots/x.snap.tmp"] {
        assert!(check_path(StorageOp::Read, ok, false).is_ok(), "{ok}");
    }
    for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "a b", "a\\b"] {
        assert_eq!(check_path(StorageOp::Read, bad, false).unwrap_err().kind, StorageErrorKind::InvalidPath, "{bad:?}");
    }
    assert!(check_path(StorageOp::List, "", true).is_ok());
}

#[test]
fn parent_and_join_agree() {
    assert_eq!(parent_dir("a.seg"), "");
    assert_eq!(parent_dir("archive/a.seg"), "archive");
    assert_eq!(join("", "a.seg"), "a.seg");
    assert_eq!(join("archive", "a.seg"), "archive/a.seg");
}
