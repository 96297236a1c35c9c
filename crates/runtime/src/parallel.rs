//! Reading hundreds of small kernel files (a `list` of every container, a metrics scrape)
//! is nearly all time in the kernel: one thread per CPU divides it.

/// Below this many items a thread costs more than it saves.
const THRESHOLD: usize = 64;
/// Threads at most.
const MAX_WORKERS: usize = 4;

/// `f` of every item that gives `Some`, in the order of `items`: on one thread per CPU (at
/// most [`MAX_WORKERS`]) from [`THRESHOLD`] items, on the caller's below.
pub fn filter_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Option<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if items.len() < THRESHOLD {
        1
    } else {
        cpus.min(MAX_WORKERS)
    };
    if workers <= 1 {
        return Ok(items.iter().filter_map(&f).collect());
    }
    let chunk = items.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().filter_map(f).collect::<Vec<R>>()))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for w in workers {
            let part = w
                .join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
            all.extend(part);
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::filter_map;

    #[test]
    fn keeps_order_and_drops_none_on_both_paths() {
        for n in [10usize, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let odd = filter_map(&items, |&i| (i % 2 == 1).then_some(i * 10)).unwrap();
            let want: Vec<usize> = (0..n).filter(|i| i % 2 == 1).map(|i| i * 10).collect();
            assert_eq!(odd, want);
        }
    }
}
