"""The live writer's upsert payloads (projections/pg_store.py ``json_arrays``): rows split
into JSON arrays of bounded size, none lost, none reordered."""
import json

import orjson
from hypothesis import given, strategies as st

from projections.pg_store import json_arrays

rows = st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=40) | st.integers(-2 ** 63, 2 ** 63 - 1) | st.none(), max_size=4),
                max_size=40)


@given(rows, st.integers(min_value=2, max_value=400))
def test_every_row_arrives_in_order_and_each_array_keeps_to_the_limit_unless_one_row_is_larger(values, limit):
    encoded = [orjson.dumps(v) for v in values]
    arrays = json_arrays(encoded, limit)
    assert [row for array in arrays for row in json.loads(array)] == values
    for array in arrays:
        assert len(array.encode()) <= limit or len(json.loads(array)) == 1
    assert arrays or not values
