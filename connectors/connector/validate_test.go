package connector_test

import (
	"fmt"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
	"github.com/cityhighway/highway/highway/catalog"
)

func TestValidator(t *testing.T) {
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	in := connector.Result{
		Records: []connector.Record{
			{Feed: "hko.weather.humidity", Key: "Hong Kong Observatory", Where: "humidity.data[0]", Value: []byte(`{"station":"Hong Kong Observatory","humidity":85,"record_time":"2020-05-23T17:00:00+08:00"}`)},
			{Feed: "hko.weather.humidity", Key: "Hong Kong Observatory", Where: "humidity.data[1]", Value: []byte(`{"station":"Hong Kong Observatory","humidity":185,"record_time":"2020-05-23T17:00:00+08:00"}`)},
			{Feed: "hko.weather.humidity", Key: "x", Where: "humidity.data[2]", Value: []byte(`{"station":"x","humidity":85}`)},
			{Feed: "city.unknown", Key: "x", Where: "here", Value: []byte(`{}`)},
		},
		Rejects: []connector.Reject{{Feed: "hko.weather.humidity", Where: "humidity", Reason: "from the parser"}},
	}
	ct.Check(t, v.Check(in), []ct.Want{
		{"hko.weather.humidity", "Hong Kong Observatory", "humidity.data[0]", `{"station":"Hong Kong Observatory","humidity":85,"record_time":"2020-05-23T17:00:00+08:00"}`},
	}, []ct.WantReject{
		{"hko.weather.humidity", "humidity", "from the parser"},
		{"hko.weather.humidity", "humidity.data[1]", "field humidity: value 185: above the maximum 100"},
		{"hko.weather.humidity", "humidity.data[2]", "field record_time: required field is missing or null"},
		{"city.unknown", "here", "feed city.unknown is not in the catalogue"},
	})
	// Many records: the decoders' memory is dropped as it goes.
	for i := range 10000 {
		rec := connector.Record{Feed: "hko.weather.humidity", Value: []byte(fmt.Sprintf(`{"station":"s%d","humidity":50,"record_time":"2020-05-23T17:00:00+08:00"}`, i))}
		if err := v.Validate(rec); err != nil {
			t.Fatal(err)
		}
	}
}

// A parser's result goes through the Validator of the catalogue in force
// before it is produced; here, the built-in one.
func ExampleValidator() {
	cat, err := catalog.Builtin()
	if err != nil {
		panic(err)
	}
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()

	var o connector.Object
	o.Begin()
	o.String("station", "Sha Tin")
	o.Float("temperature", 99)
	o.String("record_time", "2024-06-01T03:00:00+08:00")
	res := v.Check(connector.Result{Records: []connector.Record{
		{Feed: "hko.weather.temperature", Key: "Sha Tin", Value: o.End(), Where: "temperature.data[0]"},
	}})
	for _, r := range res.Rejects {
		fmt.Printf("%s %s: %s\n", r.Feed, r.Where, r.Reason)
	}
	// Output:
	// hko.weather.temperature temperature.data[0]: field temperature: value 99: above the maximum 50
}
