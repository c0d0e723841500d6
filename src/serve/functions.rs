//! PostgreSQL functions that clients call in their catalogue queries and DataFusion lacks.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Every extra function, for one session.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        version(),
        to_regtype(),
        ScalarUDF::from(JsonBuildObject::new()),
        pg_get_serial_sequence(),
        pg_type_is_visible(),
    ]
}

/// `version()` in PostgreSQL's shape: drivers (SQLAlchemy, Npgsql) parse "PostgreSQL <major>.<minor>".
fn version() -> ScalarUDF {
    let text = format!(
        "PostgreSQL 16.6 (followup serve {}, Apache DataFusion, read-only)",
        env!("CARGO_PKG_VERSION")
    );
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text.clone()))))
        }),
    )
}

/// `pg_get_serial_sequence(table, column)`: NULL, the warehouse has no sequences (SQLAlchemy asks).
fn pg_get_serial_sequence() -> ScalarUDF {
    create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))),
    )
}

/// `pg_type_is_visible(oid)`: every type is on the search path here (SQLAlchemy's enum/domain lookups).
fn pg_type_is_visible() -> ScalarUDF {
    create_udf(
        "pg_type_is_visible",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let out: datafusion::arrow::array::BooleanArray = (0..arrays[0].len())
                .map(|i| arrays[0].is_valid(i).then_some(true))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// `to_regtype(name)`: the oid of a built-in type, or NULL (psycopg and SQLAlchemy look up optional
/// types such as hstore with it on connect; NULL means "not installed").
fn to_regtype() -> ScalarUDF {
    fn oid(name: &str) -> Option<i32> {
        let n = name
            .trim()
            .trim_start_matches("pg_catalog.")
            .to_ascii_lowercase();
        Some(match n.as_str() {
            "bool" | "boolean" => 16,
            "bytea" => 17,
            "int8" | "bigint" => 20,
            "int2" | "smallint" => 21,
            "int4" | "integer" | "int" => 23,
            "text" => 25,
            "oid" => 26,
            "json" => 114,
            "float4" | "real" => 700,
            "float8" | "double precision" => 701,
            "varchar" | "character varying" => 1043,
            "date" => 1082,
            "time" => 1083,
            "timestamp" | "timestamp without time zone" => 1114,
            "timestamptz" | "timestamp with time zone" => 1184,
            "interval" => 1186,
            "numeric" | "decimal" => 1700,
            "uuid" => 2950,
            "jsonb" => 3802,
            _ => return None,
        })
    }
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let out: Int32Array = (0..names.len())
                .map(|i| names.is_valid(i).then(|| oid(names.value(i))).flatten())
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// `json_build_object(k1, v1, ...)` as JSON text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    fn new() -> Self {
        JsonBuildObject {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

fn json_value(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Float32(_)
        | ScalarValue::Float64(_) => v.to_string(),
        other => serde_json::Value::String(other.to_string()).to_string(),
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.clone().into_array(rows))
            .collect::<Result<_>>()?;
        let mut out = StringBuilder::new();
        for r in 0..rows {
            let mut parts = Vec::new();
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], r)?;
                let value = match pair.get(1) {
                    Some(a) => ScalarValue::try_from_array(a, r)?,
                    None => ScalarValue::Null,
                };
                let key = serde_json::Value::String(if key.is_null() {
                    String::new()
                } else {
                    key.to_string()
                });
                parts.push(format!("{key} : {}", json_value(&value)));
            }
            out.append_value(format!("{{{}}}", parts.join(", ")));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
