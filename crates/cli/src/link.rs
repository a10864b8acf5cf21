//! GitHub's `Link` response header: where the next page is.

use std::num::NonZeroU64;

use reqwest::header::{HeaderMap, LINK};

/// The target of the first link whose `rel` includes `rel`, in one `Link` header value such as
/// `<https://h/x?page=2>; rel="next", <https://h/x?page=5>; rel="last"`.
pub fn find_rel<'a>(header: &'a str, rel: &str) -> Option<&'a str> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let tail = &after[end + 1..];
        // A link's parameters run up to the next link, which starts with '<'.
        let params_end = tail.find('<').unwrap_or(tail.len());
        let matches = tail[..params_end]
            .split([';', ','])
            .filter_map(|param| param.split_once('='))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("rel"))
            .any(|(_, value)| {
                value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
            });
        if matches {
            return Some(target);
        }
        rest = &tail[params_end..];
    }
    None
}

/// The `page` query parameter of a link target, absolute or relative.
pub fn page_of(target: &str) -> Option<NonZeroU64> {
    let base = reqwest::Url::parse("http://link.invalid/").ok()?;
    let url = base.join(target).ok()?;
    let page = url
        .query_pairs()
        .find(|(key, _)| key == "page")
        .map(|(_, value)| value.into_owned())?;
    page.parse().ok()
}

/// The page number that `rel="next"` points at, if the response has one.
pub fn next_page(headers: &HeaderMap) -> Option<NonZeroU64> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| find_rel(value, "next"))
        .and_then(page_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIDDLE: &str = "<http://h/x?owner=a%2Cb&per_page=10&page=1>; rel=\"prev\", \
        <http://h/x?owner=a%2Cb&per_page=10&page=3>; rel=\"next\", \
        <http://h/x?owner=a%2Cb&per_page=10&page=3>; rel=\"last\", \
        <http://h/x?owner=a%2Cb&per_page=10&page=1>; rel=\"first\"";

    fn page(n: u64) -> Option<NonZeroU64> {
        NonZeroU64::new(n)
    }

    #[test]
    fn finds_next_among_all_four_relations() {
        assert_eq!(
            find_rel(MIDDLE, "next"),
            Some("http://h/x?owner=a%2Cb&per_page=10&page=3")
        );
        assert_eq!(
            find_rel(MIDDLE, "first"),
            Some("http://h/x?owner=a%2Cb&per_page=10&page=1")
        );
    }

    #[test]
    fn the_last_page_has_no_next() {
        let last = "<http://h/x?page=2>; rel=\"prev\", <http://h/x?page=1>; rel=\"first\"";
        assert_eq!(find_rel(last, "next"), None);
        assert_eq!(find_rel("", "next"), None);
    }

    #[test]
    fn relations_are_matched_whole_case_insensitively_and_in_lists() {
        assert_eq!(
            find_rel("<http://h/?page=2>; rel=\"nextish\"", "next"),
            None
        );
        assert_eq!(
            find_rel("<http://h/?page=2>; REL=NEXT", "next"),
            Some("http://h/?page=2")
        );
        assert_eq!(
            find_rel("<http://h/?page=9>; title=\"x\"; rel=\"last next\"", "next"),
            Some("http://h/?page=9")
        );
    }

    #[test]
    fn a_target_may_contain_commas_and_semicolons() {
        let header = "<http://h/x?owner=a,b;c&page=4>; rel=\"next\"";
        assert_eq!(
            find_rel(header, "next"),
            Some("http://h/x?owner=a,b;c&page=4")
        );
        assert_eq!(page_of("http://h/x?owner=a,b;c&page=4"), page(4));
    }

    #[test]
    fn the_page_number_is_read_from_absolute_and_relative_targets() {
        assert_eq!(page_of("http://h/x?per_page=10&page=3"), page(3));
        assert_eq!(page_of("/orgs/acme/x?page=12&per_page=5"), page(12));
        assert_eq!(page_of("http://h/x?per_page=10"), None);
        assert_eq!(page_of("http://h/x?page=0"), None);
        assert_eq!(page_of("http://h/x?page=abc"), None);
    }

    #[test]
    fn next_page_reads_the_response_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(next_page(&headers), None);
        headers.insert(LINK, MIDDLE.parse().expect("header"));
        assert_eq!(next_page(&headers), page(3));
    }

    #[test]
    fn a_malformed_header_yields_nothing() {
        assert_eq!(find_rel("<http://h/?page=2; rel=\"next\"", "next"), None);
        assert_eq!(find_rel("http://h/?page=2; rel=\"next\"", "next"), None);
    }
}
