use super::Placement;

#[test]
fn subtasks_live_in_the_process_of_their_slot() {
    let p = Placement {
        process: 1,
        slots: vec![vec![0, 1], vec![2]],
    };
    assert_eq!(p.process_of(0), 0);
    assert_eq!(p.process_of(1), 0);
    assert_eq!(p.process_of(2), 1);
    assert!(p.is_local(2));
    assert!(!p.is_local(0));
}
