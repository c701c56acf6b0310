// Package ivotel records InstantVoice calls and events with OpenTelemetry.
package ivotel
