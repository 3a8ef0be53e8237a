//! Chat from a player to its room, limited in length and in rate: a line is at most
//! [`MAX_CHAT_CHARS`] characters with control characters removed, and each player has a
//! bucket of [`CHAT_BURST`] lines refilled by one every [`CHAT_REFILL_MS`]. A line over
//! either limit is not sent and its sender is told why; the core's own message budget
//! (which disconnects a flooding client) stays far above this one.

/// Longest chat line, in characters.
pub const MAX_CHAT_CHARS: usize = 140;
/// Lines a player may send at once.
pub const CHAT_BURST: u32 = 3;
/// One more line allowed this often, in milliseconds.
pub const CHAT_REFILL_MS: u32 = 1000;

/// Why a chat line was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRefusal {
    Empty,
    TooLong { chars: usize },
    TooFast,
}

impl std::fmt::Display for ChatRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatRefusal::Empty => write!(f, "empty chat line: nothing to send"),
            ChatRefusal::TooLong { chars } => write!(
                f,
                "chat line of {chars} characters: at most {MAX_CHAT_CHARS}, send it shorter"
            ),
            ChatRefusal::TooFast => write!(
                f,
                "chatting too fast: {CHAT_BURST} lines at once, then one a second; wait a moment"
            ),
        }
    }
}

/// One player's chat allowance, counted in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatGate {
    /// Lines available ×`refill_ticks`, so refilling needs no fractions.
    credit: u64,
    last_tick: u64,
}

impl ChatGate {
    pub fn new(tick: u64, refill_ticks: u64) -> ChatGate {
        ChatGate {
            credit: u64::from(CHAT_BURST) * refill_ticks.max(1),
            last_tick: tick,
        }
    }

    /// The line to send for `text` at `tick` (cleaned), or why not.
    pub fn admit(
        &mut self,
        text: &str,
        tick: u64,
        refill_ticks: u64,
    ) -> Result<String, ChatRefusal> {
        let refill = refill_ticks.max(1);
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let clean = clean.trim();
        if clean.is_empty() {
            return Err(ChatRefusal::Empty);
        }
        let chars = clean.chars().count();
        if chars > MAX_CHAT_CHARS {
            return Err(ChatRefusal::TooLong { chars });
        }
        let full = u64::from(CHAT_BURST) * refill;
        self.credit = (self.credit + tick.saturating_sub(self.last_tick)).min(full);
        self.last_tick = tick;
        if self.credit < refill {
            return Err(ChatRefusal::TooFast);
        }
        self.credit -= refill;
        Ok(clean.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_line_per_refill() {
        let mut gate = ChatGate::new(0, 30);
        for _ in 0..3 {
            assert!(gate.admit("gg", 0, 30).is_ok());
        }
        assert_eq!(gate.admit("gg", 0, 30), Err(ChatRefusal::TooFast));
        assert_eq!(gate.admit("gg", 29, 30), Err(ChatRefusal::TooFast));
        assert!(gate.admit("gg", 30, 30).is_ok());
        // A long silence refills only up to the burst.
        for _ in 0..3 {
            assert!(gate.admit("gg", 10_000, 30).is_ok());
        }
        assert_eq!(gate.admit("gg", 10_000, 30), Err(ChatRefusal::TooFast));
    }

    #[test]
    fn lines_are_cleaned_and_bounded() {
        let mut gate = ChatGate::new(0, 30);
        assert_eq!(gate.admit(" hi\u{7}\n ", 0, 30), Ok("hi".to_owned()));
        assert_eq!(gate.admit("\n\t", 0, 30), Err(ChatRefusal::Empty));
        let long = "é".repeat(MAX_CHAT_CHARS + 1);
        assert_eq!(
            gate.admit(&long, 0, 30),
            Err(ChatRefusal::TooLong {
                chars: MAX_CHAT_CHARS + 1
            })
        );
        assert!(gate.admit(&"é".repeat(MAX_CHAT_CHARS), 0, 30).is_ok());
    }
}
