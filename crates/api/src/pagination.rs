//! `page` / `per_page` parameters and GitHub's `Link` header.

use patgate_persistence::{Page, Total};

use crate::error::{ApiError, FieldError};

pub const DEFAULT_PER_PAGE: i64 = 30;
pub const MAX_PER_PAGE: i64 = 100;

/// Reads `page` and `per_page` from a query string; see [`read_page`].
pub fn page_from_query(query: &str) -> Result<Page, ApiError> {
    let mut errors = Vec::new();
    let page = read_page(&query_pairs(query), &mut errors);
    if errors.is_empty() {
        Ok(page)
    } else {
        Err(invalid_request(errors))
    }
}

/// Reads `page` and `per_page` from query pairs. `per_page` above 100 is lowered to 100, as
/// GitHub does; values below 1 or not integers are refused (pushed to `errors`).
pub fn read_page(pairs: &[(String, String)], errors: &mut Vec<FieldError>) -> Page {
    let mut page = Page {
        page: 1,
        per_page: DEFAULT_PER_PAGE,
    };
    for (key, value) in pairs {
        let parsed = value.parse::<i64>().ok().filter(|v| *v >= 1);
        match (key.as_str(), parsed) {
            ("page", Some(v)) => page.page = v,
            ("per_page", Some(v)) => page.per_page = v.min(MAX_PER_PAGE),
            ("page" | "per_page", None) => errors.push(FieldError::new(
                "Pagination",
                key,
                "invalid",
                format!("{key} must be a positive integer"),
            )),
            _ => {}
        }
    }
    // Beyond this the offset would overflow; no data set is that large.
    if page.page > 10_000_000 {
        errors.push(FieldError::new(
            "Pagination",
            "page",
            "invalid",
            "page is too large",
        ));
    }
    page
}

/// A 200 response builder with the `Link` header, when there is one.
pub fn ok_with_link(link: Option<String>) -> actix_web::HttpResponseBuilder {
    let mut res = actix_web::HttpResponse::Ok();
    if let Some(link) = link {
        res.insert_header((actix_web::http::header::LINK, link));
    }
    res
}

/// A 422 "Invalid request" carrying the given field errors.
pub fn invalid_request(errors: Vec<FieldError>) -> ApiError {
    ApiError::Unprocessable {
        message: "Invalid request".to_owned(),
        errors,
    }
}

/// The query string as decoded pairs, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// GitHub's `Link` header for a page of `total` items: `first`/`prev` when not on page 1,
/// `next`/`last` when not on the last page; `None` when everything fits on one page. When the
/// total is only known to be at least some number (a long list read a bounded window ahead,
/// see [`patgate_persistence::COUNT_AHEAD_PAGES`]), there is a `next` but no `last`.
pub fn link_header(
    base: &str,
    path: &str,
    query: &str,
    page: Page,
    total: impl Into<Total>,
) -> Option<String> {
    let total = total.into();
    let known_last = matches!(total, Total::Exact(_));
    let total = total.count();
    let last = ((total + page.per_page - 1) / page.per_page).max(1);
    if last <= 1 && page.page <= 1 {
        return None;
    }
    let url = |n: i64| link_url(base, path, query, &[("page", &n.to_string())]);
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!(
            "<{}>; rel=\"prev\"",
            url((page.page - 1).min(last))
        ));
    }
    if page.page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page.page + 1)));
        if known_last {
            links.push(format!("<{}>; rel=\"last\"", url(last)));
        }
    }
    if page.page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    Some(links.join(", "))
}

/// A `Link` URL: the request's path and query as sent, with `set`'s parameters replaced (or
/// added), in that order, at the end.
pub fn link_url(base: &str, path: &str, query: &str, set: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query_pairs(query) {
        if !set.iter().any(|(name, _)| *name == k) {
            s.append_pair(&k, &v);
        }
    }
    for (k, v) in set {
        s.append_pair(k, v);
    }
    format!("{base}{path}?{}", s.finish())
}

/// One page of `rows` read one row ahead, and what is known of the total.
pub(crate) fn page_of<T>(mut rows: Vec<T>, page: Page) -> (Vec<T>, Total) {
    let per_page = usize::try_from(page.per_page).unwrap_or(usize::MAX);
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let seen = page.offset() + i64::try_from(rows.len()).unwrap_or(0);
    let total = if more {
        Total::AtLeast(seen + 1)
    } else {
        Total::Exact(seen)
    };
    (rows, total)
}

/// One row past the page: whether there is a next one.
pub(crate) fn ahead(page: Page) -> i64 {
    page.per_page + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: i64, per_page: i64) -> Page {
        Page { page, per_page }
    }

    #[test]
    fn no_link_when_everything_fits_on_one_page() {
        assert_eq!(link_header("http://h", "/x", "", page(1, 30), 30), None);
        assert_eq!(link_header("http://h", "/x", "", page(1, 30), 0), None);
    }

    #[test]
    fn first_page_has_next_and_last_only() {
        let link = link_header("http://h", "/x", "per_page=10", page(1, 10), 25).expect("link");
        assert_eq!(
            link,
            "<http://h/x?per_page=10&page=2>; rel=\"next\", <http://h/x?per_page=10&page=3>; rel=\"last\""
        );
    }

    #[test]
    fn middle_page_has_all_four_and_keeps_filters() {
        let link = link_header(
            "http://h",
            "/x",
            "owner=a%2Cb&page=2&per_page=10",
            page(2, 10),
            25,
        )
        .expect("link");
        assert!(link.contains("<http://h/x?owner=a%2Cb&per_page=10&page=1>; rel=\"prev\""));
        assert!(link.contains("page=3>; rel=\"next\""));
        assert!(link.contains("page=3>; rel=\"last\""));
        assert!(link.contains("page=1>; rel=\"first\""));
    }

    #[test]
    fn an_open_ended_total_gives_next_but_no_last() {
        let link =
            link_header("http://h", "/x", "", page(1, 10), Total::AtLeast(101)).expect("link");
        assert_eq!(link, "<http://h/x?page=2>; rel=\"next\"");
        let link =
            link_header("http://h", "/x", "", page(4, 10), Total::AtLeast(131)).expect("link");
        assert!(link.contains("page=5>; rel=\"next\"") && !link.contains("last"));
        assert!(link.contains("page=3>; rel=\"prev\"") && link.contains("rel=\"first\""));
    }

    #[test]
    fn last_page_has_prev_and_first_only() {
        let link = link_header("http://h", "/x", "", page(3, 10), 25).expect("link");
        assert_eq!(
            link,
            "<http://h/x?page=2>; rel=\"prev\", <http://h/x?page=1>; rel=\"first\""
        );
    }

    #[test]
    fn per_page_is_capped_and_bad_values_refused() {
        assert_eq!(page_from_query("per_page=500").expect("ok").per_page, 100);
        assert!(page_from_query("per_page=0").is_err());
        assert!(page_from_query("page=abc").is_err());
        assert_eq!(page_from_query("").expect("ok"), page(1, 30));
    }
}
