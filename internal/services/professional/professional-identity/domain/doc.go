// Package domain holds professional-identity's pure rules: what a valid
// registration and profile change are (names, email, specialties from the
// platform's vocabulary, ISO languages and countries, bio), the level a
// professional starts at and the standings they can have, and how pro
// numbers are drawn.
package domain
