//! Broadcast state: enrich a large stream of page views with user details from a
//! small stream of user records, broadcast to every parallel instance (the
//! seeds' "add fields in real time" use of `BroadcastState`).
//!
//! ```text
//! cargo run --release --example broadcast_enrichment
//! ```
//!
//! `users.broadcast_with(&descriptor)` sends every user record to each instance of
//! the enrichment operator, where `process_broadcast_element` replaces the old
//! details of that user in the broadcast map state. `process_element` only reads
//! it. A view whose user is not known yet waits in keyed list state for an
//! event-time timer at its timestamp: the operator's watermark is the minimum of
//! both inputs, so while the (bounded) user stream is still running, the timer
//! cannot fire before the users have arrived.

use runnel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
    city: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageView {
    user: u32,
    page: String,
    at: i64,
}

#[derive(Clone)]
struct Enrich {
    users: MapStateDescriptor<u32, User>,
    waiting: Option<ListState<PageView>>,
}

impl Enrich {
    fn describe(view: &PageView, user: Option<&User>) -> String {
        match user {
            Some(u) => format!(
                "{} ({}, {}) viewed {} at {}",
                u.id, u.name, u.city, view.page, view.at
            ),
            None => format!(
                "{} (unknown user) viewed {} at {}",
                view.user, view.page, view.at
            ),
        }
    }
}

impl KeyedBroadcastProcessFunction<u32, PageView, User, String> for Enrich {
    fn open(&mut self, ctx: &mut KeyedOpenContext<'_, u32>) -> Result<(), BoxError> {
        self.waiting = Some(ctx.get_list_state(&ListStateDescriptor::new("waiting-for-user"))?);
        Ok(())
    }

    fn process_element(
        &mut self,
        view: PageView,
        ctx: &mut KeyedReadOnlyBroadcastContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let known = ctx
            .broadcast_state(&self.users)?
            .get(&view.user)
            .map(|u| Self::describe(&view, Some(u)));
        match known {
            Some(line) => out.collect(line),
            None => {
                ctx.timer_service().register_event_time_timer(view.at);
                self.waiting.expect("opened").add(ctx, view)?;
            }
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        user: User,
        ctx: &mut BroadcastContext<'_>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        // New details replace the old ones of the same user.
        let mut users = ctx.broadcast_state(&self.users)?;
        users.remove(&user.id);
        users.put(user.id, user);
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedReadOnlyBroadcastContext<'_, u32>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let waiting = self.waiting.expect("opened");
        let (due, later): (Vec<PageView>, Vec<PageView>) = waiting
            .get(ctx)?
            .into_iter()
            .partition(|v| v.at <= timestamp);
        waiting.update(ctx, later)?;
        let users = ctx.broadcast_state(&self.users)?;
        for view in due {
            out.collect(Self::describe(&view, users.get(&view.user)));
        }
        Ok(())
    }
}

fn users() -> Vec<User> {
    let u = |id, name: &str, city: &str| User {
        id,
        name: name.into(),
        city: city.into(),
    };
    vec![
        u(1, "ann", "Berlin"),
        u(2, "bob", "Lisbon"),
        u(3, "cid", "Oslo"),
        u(2, "bob", "Porto"),
    ]
}

fn views() -> Vec<PageView> {
    let v = |user, page: &str, at| PageView {
        user,
        page: page.into(),
        at,
    };
    vec![
        v(1, "/home", 1_000),
        v(2, "/cart", 2_000),
        v(3, "/home", 3_000),
        v(9, "/help", 4_000),
        v(1, "/checkout", 5_000),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamExecutionEnvironment::get_execution_environment()?;
    env.set_parallelism(2);
    let descriptor = MapStateDescriptor::<u32, User>::new("users");
    let users = env
        .from_elements(users())
        .name("Source: users")
        .broadcast_with(&descriptor);
    env.from_elements(views())
        .name("Source: page views")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|v: &PageView, _| v.at),
        )
        .key_by(|v| v.user)
        .connect_broadcast(&users)
        .process(Enrich {
            users: descriptor,
            waiting: None,
        })
        .name("enrich with user details")
        .print();
    env.execute("Broadcast Enrichment")?;
    Ok(())
}
