//! Reading the console's forms: `application/x-www-form-urlencoded`, or
//! `multipart/form-data` when a form uploads a file (the CSV of a list to
//! screen or of records to import). Both become the same name/value pairs;
//! an uploaded file's text is the value of its field.
use super::ConsoleError;
use crate::error::ApiError;
use actix_web::http::header;
use actix_web::HttpRequest;
use serde::de::DeserializeOwned;

fn bad(message: impl Into<String>) -> ConsoleError {
    ConsoleError::Api(ApiError::BadRequest(message.into()))
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The `name` of a part's `Content-Disposition: form-data; name="…"`.
fn part_name(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        if !field.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').find_map(|param| {
            let (name, value) = param.trim().split_once('=')?;
            (name == "name").then(|| value.trim_matches('"').to_owned())
        })
    })
}

/// The fields of a `multipart/form-data` body (RFC 7578).
fn multipart(body: &[u8], boundary: &str) -> Result<Vec<(String, String)>, ConsoleError> {
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut at =
        find(body, delimiter.as_bytes(), 0).ok_or_else(|| bad("a multipart form without parts"))?;
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        let head_start = at + 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", head_start)
            .ok_or_else(|| bad("a multipart part without headers"))?;
        let headers = std::str::from_utf8(&body[head_start..head_end])
            .map_err(|_| bad("multipart headers are not UTF-8"))?;
        let content_start = head_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)
            .ok_or_else(|| bad("a multipart form that does not end"))?;
        let name = part_name(headers).ok_or_else(|| bad("a multipart part without a name"))?;
        let value = String::from_utf8(body[content_start..next].to_vec())
            .map_err(|_| bad(format!("{name}: the file is not UTF-8 text")))?;
        fields.push((name, value));
        at = next + 2;
    }
}

/// The form's fields, in order, whichever way it was sent.
pub fn fields(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, ConsoleError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary =
            boundary(content_type).ok_or_else(|| bad("a multipart form without a boundary"))?;
        multipart(body, &boundary)
    } else {
        Ok(url::form_urlencoded::parse(body).into_owned().collect())
    }
}

/// The fields as `T`. Repeated fields named in `lists` are joined with
/// commas (an HTML form sends one pair per ticked checkbox); a non-empty
/// uploaded `file` becomes the value of `file_into` when that is empty.
pub fn decode<T: DeserializeOwned>(
    mut pairs: Vec<(String, String)>,
    lists: &[&str],
    file_into: Option<&str>,
) -> Result<T, ConsoleError> {
    for list in lists {
        let joined: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == list)
            .map(|(_, v)| v.clone())
            .collect();
        pairs.retain(|(k, _)| k != list);
        pairs.push(((*list).to_owned(), joined.join(",")));
    }
    if let Some(target) = file_into {
        let file = pairs
            .iter()
            .find(|(k, v)| k == "file" && !v.trim().is_empty())
            .map(|(_, v)| v.clone());
        pairs.retain(|(k, _)| k != "file");
        if let Some(file) = file {
            let typed = pairs
                .iter()
                .any(|(k, v)| k == target && !v.trim().is_empty());
            if !typed {
                pairs.retain(|(k, _)| k != target);
                pairs.push((target.to_owned(), file));
            }
        }
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    serde_urlencoded::from_str(&encoded)
        .map_err(|e| bad(format!("the form could not be read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multipart_fields_and_files() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\nContent-Type: text/csv\r\n\r\nchain,address\r\neth,0x1\r\n\r\n\
                    --XyZ--\r\n";
        let fields = multipart(body.as_bytes(), "XyZ").unwrap();
        assert_eq!(
            fields,
            vec![
                ("csrf".to_owned(), "abc".to_owned()),
                ("file".to_owned(), "chain,address\r\neth,0x1\r\n".to_owned())
            ]
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert!(multipart(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
            "XyZ"
        )
        .is_err());
        assert!(multipart(b"garbage", "XyZ").is_err());
    }
}
