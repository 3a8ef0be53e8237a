//! The process's open-file limit: each bot holds one socket, and the common default soft
//! limit (1024) stops a swarm at about a thousand bots with an obscure "too many open
//! files". [`ensure_open_files`] raises the soft limit to what the run needs (up to the
//! hard limit, or beyond it where the process may) and says clearly when it cannot.

/// Descriptors needed besides the bots' sockets: stdio, the runtime's epoll and wakers, a
/// JSON report file, a CA file, and slack for the resolver.
pub const FD_HEADROOM: u64 = 64;

/// Why the limit could not be raised.
#[derive(Debug, thiserror::Error)]
pub enum FdLimitError {
    #[error(
        "{bots} bots need about {needed} open files, but the limit is {soft} (hard limit \
         {hard}) and could not be raised: {reason}. Raise it first (e.g. `ulimit -n {needed}`) \
         or run fewer bots"
    )]
    TooLow {
        bots: usize,
        needed: u64,
        soft: u64,
        hard: u64,
        reason: String,
    },
}

/// Files `bots` bots need open.
pub fn files_needed(bots: usize) -> u64 {
    u64::try_from(bots)
        .unwrap_or(u64::MAX)
        .saturating_add(FD_HEADROOM)
}

/// Makes sure the soft open-file limit covers `bots` bots; returns the limit now in force.
/// The hard limit is raised too where the process may (as root).
#[cfg(unix)]
pub fn ensure_open_files(bots: usize) -> Result<u64, FdLimitError> {
    use rlimit::Resource;

    let needed = files_needed(bots);
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|error| too_low(bots, needed, 0, 0, error))?;
    if soft >= needed {
        return Ok(soft);
    }
    Resource::NOFILE
        .set(needed, hard.max(needed))
        .map_err(|error| too_low(bots, needed, soft, hard, error))?;
    Ok(needed)
}

/// Elsewhere the limit is left to the platform.
#[cfg(not(unix))]
pub fn ensure_open_files(bots: usize) -> Result<u64, FdLimitError> {
    Ok(files_needed(bots))
}

#[cfg(unix)]
fn too_low(bots: usize, needed: u64, soft: u64, hard: u64, error: std::io::Error) -> FdLimitError {
    FdLimitError::TooLow {
        bots,
        needed,
        soft,
        hard,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_swarm_fits_the_current_limit() {
        let limit = ensure_open_files(10).unwrap();
        assert!(limit >= files_needed(10));
    }

    #[test]
    fn an_impossible_swarm_is_a_clear_error() {
        // No system allows u64::MAX descriptors; the message says what to do.
        let error = ensure_open_files(usize::MAX).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("ulimit -n"), "{text}");
        assert!(text.contains("open files"), "{text}");
    }
}
