package sim

import "math"

// The city's daily rhythms, shared by the direct simulator (Snapshot) and
// the payloads the HTTP simulator serves. h is the Hong Kong hour of day as
// a fraction, i the index of the thing measured (a station, a detector), so
// things differ a little; noise is one standard normal draw.

// temperature in °C: coolest near 06:00, warmest near 14:00.
func temperature(h float64, i int, noise float64) float64 {
	return 22 + 4*math.Sin(2*math.Pi*(h-9)/24) + float64(i%5)*0.4 + 0.3*noise
}

// humidity in percent, the mirror of temperature.
func humidity(h, noise float64) float64 {
	return clamp(78-12*math.Sin(2*math.Pi*(h-9)/24)+2*noise, 30, 100)
}

// raining reports whether a rain event is passing over the city: one hour
// in every five (00:00, 05:00, 10:00, 15:00, 20:00).
func raining(h float64) bool { return math.Mod(h, 5) < 1 }

// rain in mm in the past hour.
func rain(h, noise float64) float64 {
	if raining(h) {
		return math.Abs(8 + 6*noise)
	}
	return 0
}

// uvIndex is 0 at night and peaks at noon.
func uvIndex(h, noise float64) float64 {
	return math.Max(0, 9*math.Sin(math.Pi*(h-6)/12)+0.5*noise)
}

// rush is 1 at the peaks of the rush hours (08:30, 18:30), 0 at night.
func rush(h, width float64) float64 {
	return math.Exp(-sq(h-8.5)/width) + math.Exp(-sq(h-18.5)/width)
}

// speed in km/h: rush hours slow the roads.
func speed(h float64, i int, noise float64) float64 {
	return clamp(85-45*rush(h, 1.5)-float64(i%4)*5+6*noise, 5, 120)
}

// volume in vehicles per 30 s.
func volume(h, noise float64) float64 { return clamp(6+14*rush(h, 2)+3*noise, 0, 40) }

// occupancy in percent.
func occupancy(h, noise float64) float64 { return clamp(8+30*rush(h, 2)+3*noise, 0, 100) }

// speedSD is the standard deviation of speeds in km/h.
func speedSD(noise float64) float64 { return math.Abs(6 + 2*noise) }

// journeyMinutes grows in the rush hours.
func journeyMinutes(h float64, i int, noise float64) float64 {
	return clamp(12+10*rush(h, 1.5)+float64(i%6)+noise, 1, 120)
}

// aqhi is 1 to 10: an episode builds up in the afternoon.
func aqhi(h float64, i int, noise float64) int {
	return int(clamp(math.Round(3+2.5*math.Exp(-sq(h-15)/8)+float64(i%3)*0.5+0.6*noise), 1, 10))
}

// pollutant is a concentration in µg/m³ that follows the day.
func pollutant(h, noise float64) float64 {
	return math.Abs(30 + 15*math.Sin(2*math.Pi*(h-6)/24) + 8*noise)
}

// carbonMonoxide in µg/m³.
func carbonMonoxide(noise float64) float64 { return math.Abs(600 + 100*noise) }
