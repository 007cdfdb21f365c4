package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// NeverExpire is LogRetentionDays for logs kept forever
// (-c logRetentionDays=never).
const NeverExpire = -1

// retentions are the retention periods CloudWatch Logs allows, in days.
var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS, NeverExpire: awslogs.RetentionDays_INFINITE,
}

// retention is days as CloudWatch takes it; any other value is refused
// (rounding it would keep logs longer, or shorter, than asked).
func retention(days int) awslogs.RetentionDays {
	r, ok := retentions[days]
	if !ok {
		var allowed []int
		for d := range retentions {
			if d > 0 {
				allowed = append(allowed, d)
			}
		}
		slices.Sort(allowed)
		panic(fmt.Sprintf("context logRetentionDays: CloudWatch Logs keeps logs %v days, or never; not %d", allowed, days))
	}
	return r
}

// logLevel is the functions' application log level: Lambda drops JSON
// lines below it and tells the process (AWS_LAMBDA_LOG_LEVEL), whose
// logger then skips them.
func logLevel(level string) awslambda.ApplicationLogLevel {
	l := strings.ToUpper(level)
	if !slices.Contains([]string{"DEBUG", "INFO", "WARN", "ERROR"}, l) {
		panic(fmt.Sprintf("context logLevel: %q is not DEBUG, INFO, WARN or ERROR", level))
	}
	return awslambda.ApplicationLogLevel(l)
}
