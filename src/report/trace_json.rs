//! `--trace-json=FILE`: the build as a Chrome trace (the JSON array format that
//! Perfetto and chrome://tracing open). Every step is one complete (`"X"`)
//! event on the track of the job slot that ran it; hbuild's own phases
//! (reading makefiles, up-to-date checks) are on track 0. Times are
//! microseconds since the recorder was made.
//!
//! The recorder only appends to a list under a mutex, so the engine can call it
//! from wherever a step starts and ends without caring about threads.

use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The track of hbuild's own work; job slots are numbered from 1.
pub const MAIN_TRACK: usize = 0;

/// The process id every event carries (one hbuild, one process in the trace).
const PID: u32 = 1;

/// One finished step, as the trace shows it.
#[derive(Clone, Debug)]
pub struct StepTrace {
    /// The target the recipe made (the first one, for grouped targets).
    pub target: String,
    /// The expanded recipe, its command lines joined by newlines.
    pub command: String,
    /// The sandbox mode the step ran under (`enforce`, `audit`, `off`, ...).
    pub sandbox_mode: String,
    /// `ok`, `failed`, `interrupted`, ...: free text, shown as is.
    pub result: String,
    /// The job slot (1..=N for `-jN`; see `Slots`).
    pub slot: usize,
    pub start: Instant,
    pub end: Instant,
}

#[derive(Clone, Debug)]
enum Event {
    Phase {
        name: String,
        start: Instant,
        end: Instant,
    },
    Step(StepTrace),
}

/// Collects phases and steps while the build runs; `write` saves them.
#[derive(Debug)]
pub struct TraceRecorder {
    origin: Instant,
    events: Mutex<Vec<Event>>,
    slots: Mutex<Slots>,
}

/// A step that has begun: its job slot and start time (see `begin_step`).
#[derive(Clone, Copy, Debug)]
pub struct StepStart {
    pub slot: usize,
    pub start: Instant,
}

/// The recorder of this process, once `--trace-json` turned it on.
static GLOBAL: OnceLock<TraceRecorder> = OnceLock::new();

/// Turn tracing on for this process (time zero: the first call).
pub fn enable() -> &'static TraceRecorder {
    GLOBAL.get_or_init(TraceRecorder::new)
}

/// The process's recorder, if tracing is on.
pub fn active() -> Option<&'static TraceRecorder> {
    GLOBAL.get()
}

impl Default for TraceRecorder {
    fn default() -> Self {
        TraceRecorder::new()
    }
}

impl TraceRecorder {
    /// A recorder whose time zero is now (make it before reading makefiles).
    pub fn new() -> TraceRecorder {
        TraceRecorder::starting_at(Instant::now())
    }

    pub fn starting_at(origin: Instant) -> TraceRecorder {
        TraceRecorder {
            origin,
            events: Mutex::new(Vec::new()),
            slots: Mutex::new(Slots::new()),
        }
    }

    /// A step starts now: it takes the lowest free job slot.
    pub fn begin_step(&self) -> StepStart {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        StepStart {
            slot: slots.acquire(),
            start: Instant::now(),
        }
    }

    /// The step begun with `started` ended now: record it, free its slot.
    pub fn end_step(
        &self,
        started: StepStart,
        target: &str,
        command: &str,
        sandbox_mode: &str,
        result: &str,
    ) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(started.slot);
        self.step(StepTrace {
            target: target.to_string(),
            command: command.to_string(),
            sandbox_mode: sandbox_mode.to_string(),
            result: result.to_string(),
            slot: started.slot,
            start: started.start,
            end: Instant::now(),
        });
    }

    /// Run `f` as phase `name` (`read makefiles`, `check goals`).
    pub fn time_phase<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = f();
        self.phase(name, start, Instant::now());
        r
    }

    /// One of hbuild's own phases (`read makefiles`, `check goal`, ...).
    pub fn phase(&self, name: &str, start: Instant, end: Instant) {
        self.push(Event::Phase {
            name: name.to_string(),
            start,
            end,
        });
    }

    /// One step (a recipe run) that has finished.
    pub fn step(&self, step: StepTrace) {
        self.push(Event::Step(step));
    }

    fn push(&self, e: Event) {
        // A poisoned lock only means another thread panicked mid-push; the
        // list itself is still usable.
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push(e);
    }

    /// How many steps were recorded so far.
    pub fn step_count(&self) -> usize {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events
            .iter()
            .filter(|e| matches!(e, Event::Step(_)))
            .count()
    }

    /// The trace as a JSON array of events.
    pub fn to_json(&self) -> Value {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let mut tracks: Vec<usize> = vec![MAIN_TRACK];
        let mut out = Vec::with_capacity(events.len() + 4);
        for e in events.iter() {
            match e {
                Event::Phase { name, start, end } => out.push(json!({
                    "name": name,
                    "cat": "phase",
                    "ph": "X",
                    "ts": self.micros(*start),
                    "dur": micros_between(*start, *end),
                    "pid": PID,
                    "tid": MAIN_TRACK,
                })),
                Event::Step(s) => {
                    if !tracks.contains(&s.slot) {
                        tracks.push(s.slot);
                    }
                    out.push(json!({
                        "name": s.target,
                        "cat": "step",
                        "ph": "X",
                        "ts": self.micros(s.start),
                        "dur": micros_between(s.start, s.end),
                        "pid": PID,
                        "tid": s.slot,
                        "args": {
                            "target": s.target,
                            "command": s.command,
                            "sandbox": s.sandbox_mode,
                            "result": s.result,
                        },
                    }))
                }
            }
        }
        tracks.sort_unstable();
        let mut meta = vec![json!({
            "name": "process_name",
            "ph": "M",
            "pid": PID,
            "tid": MAIN_TRACK,
            "args": { "name": "hbuild" },
        })];
        for t in tracks {
            let name = if t == MAIN_TRACK {
                "hbuild".to_string()
            } else {
                format!("job slot {}", t)
            };
            meta.push(json!({
                "name": "thread_name",
                "ph": "M",
                "pid": PID,
                "tid": t,
                "args": { "name": name },
            }));
            // Keep the tracks in slot order in the viewer.
            meta.push(json!({
                "name": "thread_sort_index",
                "ph": "M",
                "pid": PID,
                "tid": t,
                "args": { "sort_index": t },
            }));
        }
        meta.extend(out);
        Value::Array(meta)
    }

    /// Write the trace to `path` (replacing it).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut f = io::BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer(&mut f, &self.to_json()).map_err(io::Error::other)?;
        f.write_all(b"\n")?;
        f.flush()
    }

    fn micros(&self, t: Instant) -> u64 {
        micros_between(self.origin, t)
    }
}

fn micros_between(a: Instant, b: Instant) -> u64 {
    b.saturating_duration_since(a).as_micros() as u64
}

/// Job slot numbers for the trace's tracks: a step takes the lowest free slot
/// when it starts and gives it back when it ends, so `-j4` shows four tracks.
#[derive(Debug, Default)]
pub struct Slots {
    busy: Vec<bool>,
}

impl Slots {
    pub fn new() -> Slots {
        Slots::default()
    }

    /// The lowest free slot (numbered from 1).
    pub fn acquire(&mut self) -> usize {
        match self.busy.iter().position(|b| !b) {
            Some(i) => {
                self.busy[i] = true;
                i + 1
            }
            None => {
                self.busy.push(true);
                self.busy.len()
            }
        }
    }

    pub fn release(&mut self, slot: usize) {
        if let Some(b) = slot.checked_sub(1).and_then(|i| self.busy.get_mut(i)) {
            *b = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn step(target: &str, slot: usize, start: Instant, ms: u64) -> StepTrace {
        StepTrace {
            target: target.into(),
            command: format!("cc -o {}", target),
            sandbox_mode: "enforce".into(),
            result: "ok".into(),
            slot,
            start,
            end: start + Duration::from_millis(ms),
        }
    }

    #[test]
    fn steps_become_complete_events_on_their_slot_track() {
        let t0 = Instant::now();
        let rec = TraceRecorder::starting_at(t0);
        rec.phase("read makefiles", t0, t0 + Duration::from_millis(2));
        rec.step(step("a.o", 1, t0 + Duration::from_millis(3), 10));
        rec.step(step("b.o", 2, t0 + Duration::from_millis(4), 5));
        let v = rec.to_json();
        let text = serde_json::to_string(&v).unwrap();
        let events: Vec<Value> = serde_json::from_str(&text).unwrap();
        let steps: Vec<&Value> = events.iter().filter(|e| e["cat"] == "step").collect();
        assert_eq!(steps.len(), 2);
        let a = steps.iter().find(|e| e["name"] == "a.o").unwrap();
        assert_eq!(a["ph"], "X");
        assert_eq!(a["ts"], 3000);
        assert_eq!(a["dur"], 10000);
        assert_eq!(a["tid"], 1);
        assert_eq!(a["args"]["command"], "cc -o a.o");
        assert_eq!(a["args"]["sandbox"], "enforce");
        assert_eq!(a["args"]["result"], "ok");
        let phase = events.iter().find(|e| e["cat"] == "phase").unwrap();
        assert_eq!(phase["tid"], MAIN_TRACK);
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["hbuild", "job slot 1", "job slot 2"]);
    }

    #[test]
    fn write_produces_a_parsable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let rec = TraceRecorder::new();
        let now = Instant::now();
        rec.step(step("x \"quoted\"", 1, now, 1));
        rec.write(&path).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(v
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "x \"quoted\""));
        assert_eq!(rec.step_count(), 1);
    }

    #[test]
    fn end_before_start_gives_zero_duration() {
        let t0 = Instant::now();
        let rec = TraceRecorder::starting_at(t0 + Duration::from_secs(1));
        rec.step(StepTrace {
            end: t0,
            ..step("early", 1, t0, 0)
        });
        let v = rec.to_json();
        let s = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["cat"] == "step")
            .unwrap();
        assert_eq!(s["ts"], 0);
        assert_eq!(s["dur"], 0);
    }

    #[test]
    fn begun_steps_take_free_slots_and_give_them_back() {
        let rec = TraceRecorder::new();
        let a = rec.begin_step();
        let b = rec.begin_step();
        assert_eq!((a.slot, b.slot), (1, 2));
        rec.end_step(a, "a", "touch a", "off", "ok");
        let c = rec.begin_step();
        assert_eq!(c.slot, 1);
        rec.end_step(b, "b", "touch b", "off", "failed");
        rec.end_step(c, "c", "touch c", "off", "ok");
        rec.time_phase("read makefiles", || ());
        let v = rec.to_json();
        let steps = v.as_array().unwrap().iter().filter(|e| e["cat"] == "step");
        assert_eq!(steps.count(), 3);
        assert_eq!(rec.step_count(), 3);
    }

    #[test]
    fn slots_reuse_the_lowest_free_number() {
        let mut s = Slots::new();
        assert_eq!(s.acquire(), 1);
        assert_eq!(s.acquire(), 2);
        s.release(1);
        assert_eq!(s.acquire(), 1);
        assert_eq!(s.acquire(), 3);
        s.release(0); // not a slot: ignored
        s.release(99);
    }
}
