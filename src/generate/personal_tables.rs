//! The tables of the synthetic `pidb` that hold personal or irrelevant data: present in
//! `seed.sql` so the tests can prove datacycle never reads them.

use rand::Rng;

use super::reference::{Table, v};

/// The personal-data and irrelevant tables datacycle must never read.
pub(super) fn gdpr_tables(rng: &mut rand_chacha::ChaCha8Rng, people: usize) -> Vec<Table> {
    let mut actions = Table::new(
        "actions",
        &[
            ("idAction", "INT PRIMARY KEY"),
            ("idUser", "INT"),
            ("description", "VARCHAR(200)"),
            ("createdAt", "DATETIME"),
        ],
    );
    let mut achievements = Table::new(
        "achievements",
        &[
            ("idAchievement", "INT PRIMARY KEY"),
            ("idUser", "INT"),
            ("name", "VARCHAR(100)"),
        ],
    );
    let mut events = Table::new(
        "events",
        &[
            ("idEvent", "INT PRIMARY KEY"),
            ("idUser", "INT"),
            ("title", "VARCHAR(100)"),
            ("start", "DATETIME"),
        ],
    );
    let mut relationships = Table::new(
        "userrelationships",
        &[
            ("idUser1", "INT"),
            ("idUser2", "INT"),
            ("kind", "VARCHAR(20)"),
        ],
    );
    for u in 1..=people {
        actions.push(vec![
            v(u),
            v(u),
            v("Turned off the heating"),
            v("2023-08-20 08:00:00"),
        ]);
        achievements.push(vec![v(u), v(u), v("Energy saver")]);
        events.push(vec![
            v(u),
            v(u),
            v("Family dinner"),
            v("2023-08-25 19:00:00"),
        ]);
        relationships.push(vec![
            v(u),
            v(people.max(2) - u + 1),
            v(["family", "friend"][rng.random_range(0..2)]),
        ]);
    }
    let mut badges = Table::new(
        "badges",
        &[("idBadge", "INT PRIMARY KEY"), ("name", "VARCHAR(50)")],
    );
    badges.push(vec![v(1), v("Green week")]);
    let mut generic = Table::new(
        "eventsgeneric",
        &[
            ("idEventGeneric", "INT PRIMARY KEY"),
            ("tip", "VARCHAR(200)"),
        ],
    );
    generic.push(vec![v(1), v("Close the windows when the heating is on")]);
    let mut ignore = Table::new(
        "eventsignore",
        &[
            ("idEventIgnore", "INT PRIMARY KEY"),
            ("idUser", "INT"),
            ("idEventGeneric", "INT"),
        ],
    );
    ignore.push(vec![v(1), v(1), v(1)]);
    let mut categories = Table::new(
        "categories",
        &[("idCategory", "INT PRIMARY KEY"), ("name", "VARCHAR(50)")],
    );
    categories.push(vec![v(1), v("Energy")]);
    vec![
        actions,
        achievements,
        badges,
        events,
        generic,
        ignore,
        categories,
        relationships,
    ]
}
