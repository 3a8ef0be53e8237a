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
#[cfg(unix)]
#[allow(clippy::useless_conversion)] // rlim_t is u64 on Linux, not on every unix
pub fn ensure_open_files(bots: usize) -> Result<u64, FdLimitError> {
    let needed = files_needed(bots);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(too_low(bots, needed, 0, 0, std::io::Error::last_os_error()));
    }
    let (soft, hard) = (u64::from(limit.rlim_cur), u64::from(limit.rlim_max));
    if soft >= needed {
        return Ok(soft);
    }
    let raised = libc::rlimit {
        rlim_cur: libc::rlim_t::try_from(needed).unwrap_or(libc::rlim_t::MAX),
        rlim_max: limit
            .rlim_max
            .max(libc::rlim_t::try_from(needed).unwrap_or(libc::rlim_t::MAX)),
    };
    // SAFETY: `raised` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(too_low(
            bots,
            needed,
            soft,
            hard,
            std::io::Error::last_os_error(),
        ));
    }
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
